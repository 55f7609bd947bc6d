# Copyright: (c) 2026, SkillForge Data Operations
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of skillforge.dataops against hand-written SQL (scripts, not tests): see docs/PERFORMANCE.md."""
