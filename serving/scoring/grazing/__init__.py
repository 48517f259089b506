"""Grazing (planners): season assessment, what-if scenarios, the county rotation plan, the season in
progress, offline scoring.

- :mod:`.scenarios`: what-ifs (head, rest, drought) applied to the season's use;
- :mod:`.numbers`: one season's numbers per grid and the one decision taken on them;
- :mod:`.assessment`: the explained assessment per (grid area, season) and offline scoring;
- :mod:`.plan`: the county rotation plan from the same decision;
- :mod:`.in_progress`: the season under way;
- :mod:`.explanations`: headline, period and advice words, what "usual" means.
"""

from __future__ import annotations

from serving.scoring.grazing.assessment import assess, score_table
from serving.scoring.grazing.common import FAMILY, PRESSURE_SHOWN_MAX, TASK, check_grids
from serving.scoring.grazing.explanations import QUESTION_FEATURES, advice_text, in_progress_text, period_text
from serving.scoring.grazing.in_progress import season_in_progress
from serving.scoring.grazing.numbers import SeasonNumbers, season_layer, season_numbers, yield_levels
from serving.scoring.grazing.plan import rotation_plan
from serving.scoring.grazing.scenarios import Scenario, apply_scenarios, scenario_of

__all__ = [
    "FAMILY",
    "PRESSURE_SHOWN_MAX",
    "QUESTION_FEATURES",
    "TASK",
    "Scenario",
    "SeasonNumbers",
    "advice_text",
    "apply_scenarios",
    "assess",
    "check_grids",
    "in_progress_text",
    "period_text",
    "rotation_plan",
    "scenario_of",
    "score_table",
    "season_in_progress",
    "season_layer",
    "season_numbers",
    "yield_levels",
]
