-- Reporting views over the O*NET reference tables. Re-applied whenever this file changes; the
-- materialized views are also refreshed by every seeding run that changes reference data.

CREATE SCHEMA IF NOT EXISTS reporting;

DROP MATERIALIZED VIEW IF EXISTS reporting.onet_skill_category_summary;
DROP MATERIALIZED VIEW IF EXISTS reporting.onet_skill_coverage;

-- Per skill: how many occupations rate it, and its mean importance (IM, 1-5) and level (LV, 0-7),
-- leaving out ratings O*NET recommends suppressing or marks not relevant.
CREATE MATERIALIZED VIEW reporting.onet_skill_coverage AS
SELECT s.element_id,
       s.element_name,
       s.category,
       count(DISTINCT r.soc_code) FILTER (WHERE r.scale_id = 'IM')                     AS occupations_rated,
       count(DISTINCT r.soc_code) FILTER (WHERE r.scale_id = 'IM' AND r.data_value >= 3) AS occupations_important,
       round(avg(r.data_value) FILTER (WHERE r.scale_id = 'IM'), 2)                     AS mean_importance,
       round(avg(r.data_value) FILTER (WHERE r.scale_id = 'LV'), 2)                     AS mean_level
  FROM onet_skills s
  LEFT JOIN onet_occupation_skills r
         ON r.element_id = s.element_id
        AND r.recommend_suppress IS DISTINCT FROM 'Y'
        AND r.not_relevant IS DISTINCT FROM 'Y'
 GROUP BY s.element_id, s.element_name, s.category
WITH DATA;

CREATE UNIQUE INDEX onet_skill_coverage_element_id_key ON reporting.onet_skill_coverage (element_id);

CREATE MATERIALIZED VIEW reporting.onet_skill_category_summary AS
SELECT category,
       count(*)                                AS skills,
       sum(occupations_rated)                  AS ratings,
       round(avg(mean_importance), 2)          AS mean_importance,
       round(avg(mean_level), 2)               AS mean_level
  FROM reporting.onet_skill_coverage
 GROUP BY category
WITH DATA;

CREATE UNIQUE INDEX onet_skill_category_summary_category_key ON reporting.onet_skill_category_summary (category);

CREATE OR REPLACE VIEW reporting.onet_source_versions AS
SELECT dataset, version, source_format, release_date, license, attribution, loaded_at
  FROM onet_dataset_versions;
