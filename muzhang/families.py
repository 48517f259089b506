"""The family registry: what a model family *is*, in one place.

A family (grazing, market, dispute, disease, or one of your own) is one :class:`FamilySpec`: its name, the
feature builder, the training plan, the experiment YAML, the registered model, the forecast rows it serves,
the columns offline scoring needs, who may use it, its HTTP router and its offline scorer. Every part of
Muzhang that lists the families (feature building, training, MLflow logging, the CLI, the service, offline
scoring, the benchmarks) iterates :func:`family_specs` instead of naming them.

The pieces that live on higher floors (builder in ``features/``, plan in ``training/``, router and scorer in
``serving/``) are given as ``"module:attribute"`` references and imported only by the floor that uses them
(:func:`resolve`), so this module imports nothing above ``muzhang/``. A reference may also be the object
itself, which is how a test or an extension registers a family from its own files::

    with registered(FamilySpec(name="toy", builder=build_toy, plan=ToyPlan, ...)):
        run_training("toy", settings)

A fifth real family is new files plus one entry in :data:`BUILT_IN`.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muzhang.paths import EXPERIMENTS

# Who may use a family's routes (the roles of muzhang.settings.Role).
PLANNING_ROLES = frozenset({"planner", "data_scientist", "admin"})
HEALTH_ROLES = frozenset({"health"})
NAME_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"

Ref = Any  # "package.module:attribute", or the object itself


@dataclass(frozen=True)
class FamilySpec:
    """One model family, described once.

    Attributes:
        name: short lowercase name; also the URL prefix ``/v1/<name>`` and the experiment file stem.
        builder: the feature builder ``(tables, *, domain, forecast) -> FeatureSet`` (features floor).
        plan: the training plan class, a :class:`training.families.base.Family` subclass (training floor).
        router: the FastAPI ``APIRouter`` serving it (serving floor), or ``None`` for no HTTP routes.
        scorer: offline scoring ``(context, frame, lang) -> DataFrame`` (serving floor), or ``None``.
        registered_model: the MLflow registered model whose ``champion`` serves.
        experiment: the experiment YAML (default ``experiments/<name>.yaml``).
        forecast_keys: columns that pick a family's forecast rows in a request (the service builds and
            caches these rows); ``None`` when requests bring their own rows (disease).
        offline_columns: input columns ``muzhang predict <name>`` requires.
        roles: who may use its routes.
        personal: predictions about a person: access is audited, summaries never show a person's values.
        intended_use: one sentence for the model card.
        tables: the catalog tables its builder reads (``None``: every table). Training and ``muzhang data
            validate --family`` require these only, so a family trains from just the tables it needs.
    """

    name: str
    builder: Ref
    plan: Ref
    router: Ref | None = None
    scorer: Ref | None = None
    registered_model: str = ""
    experiment: Path | None = None
    forecast_keys: tuple[str, ...] | None = None
    offline_columns: tuple[str, ...] = ()
    roles: frozenset[str] = PLANNING_ROLES
    personal: bool = False
    intended_use: str = ""
    tables: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(NAME_PATTERN, self.name):
            raise ValueError(f"family name {self.name!r} must match {NAME_PATTERN}")
        if not self.registered_model:
            object.__setattr__(self, "registered_model", f"muzhang-{self.name}")
        if self.experiment is None:
            object.__setattr__(self, "experiment", EXPERIMENTS / f"{self.name}.yaml")
        if not self.roles:
            raise ValueError(f"family {self.name}: at least one role must be allowed")

    @property
    def experiment_path(self) -> Path:
        """The experiment YAML (never ``None`` after construction)."""
        assert self.experiment is not None
        return self.experiment

    @property
    def serves_forecasts(self) -> bool:
        """Whether the service builds this family's forecast rows from the county (vs. rows sent in)."""
        return self.forecast_keys is not None


BUILT_IN: tuple[FamilySpec, ...] = (
    FamilySpec(
        name="grazing",
        builder="features.grazing:build_grazing_features",
        plan="training.families.grazing:GrazingFamily",
        router="serving.routes.grazing:router",
        scorer="serving.scoring.grazing:score_table",
        forecast_keys=("grid_id", "season"),
        offline_columns=("grid_id",),
        tables=("grids", "grid_monthly"),
        intended_use="Planners: forage yield, NY/T 635 capacity and grazing pressure per grid area and season.",
    ),
    FamilySpec(
        name="market",
        builder="features.market:build_market_features",
        plan="training.families.market:MarketFamily",
        router="serving.routes.market:router",
        scorer="serving.scoring.market:score_table",
        forecast_keys=("township_id", "species"),
        offline_columns=("township_id",),
        tables=("market_monthly",),  # townships, grids and grid_monthly, when present, add weather and names
        intended_use="Planners and cooperatives: head sold and price per township, species and month, "
        "1-6 months ahead.",
    ),
    FamilySpec(
        name="dispute",
        builder="features.dispute:build_dispute_features",
        plan="training.families.dispute:DisputeFamily",
        router="serving.routes.dispute:router",
        scorer="serving.scoring.dispute:score_table",
        forecast_keys=("grid_id",),
        offline_columns=("grid_id",),
        tables=("townships", "grids", "grid_neighbours", "grid_monthly"),
        intended_use="Township officials: probability of any dispute in a grid area next month, to plan prevention.",
    ),
    FamilySpec(
        name="disease",
        builder="features.disease:build_disease_features",
        plan="training.families.disease:DiseaseFamily",
        router="serving.routes.disease:router",
        scorer="serving.scoring.disease:score_table",
        forecast_keys=None,
        roles=HEALTH_ROLES,
        personal=True,
        tables=("patients", "patient_outcomes"),  # townships, when present, only name more of them
        intended_use="Health staff only: risk of each condition for a person from a baseline health check.",
    ),
)

_lock = threading.Lock()
_registry: dict[str, FamilySpec] = {spec.name: spec for spec in BUILT_IN}


class UnknownFamily(ValueError):
    """A family name that is not registered; the message lists the known ones."""


def family_specs() -> tuple[FamilySpec, ...]:
    """Every registered family, built-in ones first, in registration order."""
    return tuple(_registry.values())


def family_names() -> tuple[str, ...]:
    """The names of every registered family."""
    return tuple(_registry)


def get_family(name: str) -> FamilySpec:
    """The family called ``name``; :class:`UnknownFamily` lists the known ones otherwise."""
    try:
        return _registry[name]
    except KeyError:
        raise UnknownFamily(f"unknown family {name!r}; choose from {', '.join(_registry)}") from None


def register_family(spec: FamilySpec) -> None:
    """Add a family (an extension's, or a test's). Names and registered models must be unique."""
    with _lock:
        if spec.name in _registry:
            raise ValueError(f"family {spec.name!r} is already registered")
        clash = [s.name for s in _registry.values() if s.registered_model == spec.registered_model]
        if clash:
            raise ValueError(f"registered model {spec.registered_model!r} already belongs to {clash[0]}")
        _registry[spec.name] = spec


def unregister_family(name: str) -> None:
    """Remove a family added with :func:`register_family` (built-in families stay)."""
    with _lock:
        if any(s.name == name for s in BUILT_IN):
            raise ValueError(f"{name!r} is a built-in family")
        _registry.pop(name, None)


@contextmanager
def registered(spec: FamilySpec) -> Iterator[FamilySpec]:
    """Register ``spec`` for the duration of a ``with`` block."""
    register_family(spec)
    try:
        yield spec
    finally:
        unregister_family(spec.name)


def resolve(ref: Ref) -> Any:
    """The object a ``"module:attribute"`` reference names (imported now), or ``ref`` itself."""
    if not isinstance(ref, str):
        return ref
    module_name, sep, attribute = ref.partition(":")
    if not sep:
        raise ValueError(f"a family reference must look like 'package.module:attribute', got {ref!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target
