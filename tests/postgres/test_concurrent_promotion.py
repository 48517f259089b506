"""Promotion is a compare-and-set: many trainers of one family finishing together on PostgreSQL.

Two rounds of four dispute trainers (separate processes, different seeds, gate margin 0) start together
against one MLflow store on PostgreSQL, while two busy loops keep both cores loaded so the processes
interleave unpredictably. Before them a deliberately weak model is made champion by hand, so that from the
first round on every trainer has a champion to beat (fast tiny-county models need not beat the logistic
baseline, so a first model could otherwise stay out and leave nothing to race for).

MLflow's own alias write is read-then-insert and used to crash one of two trainers with
``UniqueViolation ... registered_model_alias_pk``; with the promotion lock every trainer must succeed,
every version be registered, each decision be against the champion of its moment (promotions form one
chain: no champion is replaced twice), and the champion left at the end be the best of all by the gate
metric (Brier score on the same test rows: the dispute split is by time, so every run tests on the same
months). No timing is asserted: only outcomes.

The store is a database of its own on the session's cluster, so these runs do not show up in the other
PostgreSQL tests' counts.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from muzhang.settings import STORE_ENV_VARS

pytestmark = pytest.mark.slow

FAMILY = "dispute"
MODEL = "muzhang-dispute-concurrent"  # not the shipped name: nothing else in the session touches it
TRAINERS = 4
ROUNDS = 2  # eight trainers racing in two waves; a third wave added 70 s of CI and no new interleaving
BUSY_LOOPS = 2
TRAINER_TIMEOUT_S = 600  # per round, generous for a loaded 2-core machine; a hang fails instead of stalling CI
FOREIGN_ENV = STORE_ENV_VARS  # settings the workers must not inherit from the machine running the tests
# One trainer: what `muzhang train dispute --seed N` does, with the test suite's fast overrides.
TRAINER_CODE = """
import json, sys
from muzhang.settings import get_settings
from training.pipeline import run_training
s = run_training(sys.argv[1], get_settings(), seed=int(sys.argv[2]), overrides=json.loads(sys.argv[3]),
                 log=lambda m: print(m, flush=True))
print("RESULT " + json.dumps({"run_id": s.run_id, "version": s.version, "promoted": s.promoted}), flush=True)
"""
# Niced: the loops take every idle moment (a trainer waiting on the lock or the database) and shift
# timings, without doubling the test's wall time on a 2-core CI machine.
# Each loop also stops once its parent (the test process) is gone: a killed test run leaves no loop behind.
BUSY_CODE = "import os; os.nice(10); parent = os.getppid()\nwhile os.getppid() == parent:\n    pass"
# One tree without a single split: the training prevalence for every row, beaten by any real model.
WEAK: dict[str, Any] = {"num_boost_round": 1, "lightgbm.min_data_in_leaf": 100_000, "candidates": ["lightgbm"]}


@dataclass(frozen=True)
class Trainer:
    round: int
    seed: int
    code: int
    log: str

    def result(self) -> dict[str, Any]:
        line = next(x for x in self.log.splitlines() if x.startswith("RESULT "))
        return dict(json.loads(line.removeprefix("RESULT ")))


@dataclass(frozen=True)
class Rounds:
    url: str
    first_champion: str  # the weak version made champion by hand before the rounds
    trainers: list[Trainer]


@pytest.fixture(scope="module")
def busy_cpu() -> Iterator[None]:
    """Two busy loops (one per core, niced) for as long as the module runs."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_CODE], start_new_session=True) for _ in range(BUSY_LOOPS)]
    try:
        yield
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


def run_round(number: int, seeds: list[int], env: dict[str, str], overrides: str, folder: Path) -> list[Trainer]:
    """Start one trainer per seed at once; wait for all of them."""
    logs = [folder / f"round{number}-seed{seed}.log" for seed in seeds]
    procs = []
    for seed, log in zip(seeds, logs, strict=True):
        with log.open("w") as out:  # the child keeps its own copy of the descriptor
            command = [sys.executable, "-c", TRAINER_CODE, FAMILY, str(seed), overrides]
            procs.append(subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT))
    try:
        codes = [p.wait(timeout=TRAINER_TIMEOUT_S) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
    return [
        Trainer(number, seed, code, log.read_text(errors="replace"))
        for seed, code, log in zip(seeds, codes, logs, strict=True)
    ]


@pytest.fixture(scope="module")
def rounds(
    new_postgres_database: Any,
    tiny_county: Path,
    fast_overrides: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Any,
    store_client: Any,
    busy_cpu: None,
) -> Rounds:
    from mlflow.tracking import MlflowClient

    from training.pipeline import run_training

    folder = tmp_path_factory.mktemp("concurrent-promotion")
    url = new_postgres_database("mlflow_promotion")
    # Tables first, once (concurrent first migrations collide; docs/deploy.md says the same).
    MlflowClient(tracking_uri=url, registry_uri=url).search_experiments()
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.update(
        MLFLOW_TRACKING_URI=url,
        MUZHANG_WORK_DIR=str(folder / "work"),  # shared: the embedded store's artifacts live here
        MUZHANG_DATA_DIR=str(tiny_county),
        PYTHONUNBUFFERED="1",
    )
    fast = {**fast_overrides, "registered_model": MODEL, "gate.margin": 0.0}
    with new_store(folder / "work", tiny_county) as settings:  # in this process: one trainer fewer to start
        settings = settings.model_copy(update={"mlflow_tracking_uri": url})
        weak = run_training(FAMILY, settings, overrides={**fast, **WEAK}, log=lambda _: None)
        if not weak.promoted:  # it is not meant to beat the baselines: put it in by hand
            store_client(settings).set_registered_model_alias(MODEL, "champion", weak.version)
    overrides = json.dumps(fast)
    trainers: list[Trainer] = []
    for number in range(ROUNDS):
        seeds = [100 + number * TRAINERS + i for i in range(TRAINERS)]
        trainers += run_round(number, seeds, env, overrides, folder)
    return Rounds(url, weak.version, trainers)


def test_every_trainer_succeeds(rounds: Rounds) -> None:
    for t in rounds.trainers:
        assert t.code == 0, f"round {t.round} seed {t.seed} exited {t.code}:\n{t.log[-4000:]}"
    assert len(rounds.trainers) == TRAINERS * ROUNDS


@pytest.fixture(scope="module")
def registry(rounds: Rounds) -> dict[str, Any]:
    """Versions (by number), their runs, and the aliases the twelve trainers left."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=rounds.url, registry_uri=rounds.url)
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{MODEL}'")}
    runs = {v: client.get_run(mv.run_id) for v, mv in versions.items()}
    aliases = {k: str(v) for k, v in client.get_registered_model(MODEL).aliases.items()}
    return {"versions": versions, "runs": runs, "aliases": aliases}


def test_every_version_is_registered_once(rounds: Rounds, registry: dict[str, Any]) -> None:
    test_every_trainer_succeeds(rounds)
    expected = [str(n) for n in range(1, TRAINERS * ROUNDS + 2)]  # the weak first champion, then the trainers'
    assert sorted(registry["versions"], key=int) == expected
    reported = {t.result()["version"]: t.result()["run_id"] for t in rounds.trainers}
    trained = {v: mv.run_id for v, mv in registry["versions"].items() if v != rounds.first_champion}
    assert reported == trained
    assert {r.info.status for r in registry["runs"].values()} == {"FINISHED"}
    for version, run in registry["runs"].items():
        assert run.data.tags["model_version"] == version
        assert run.data.tags["gate_lock"] == "postgresql advisory lock"


def test_champion_is_the_best_of_all_by_the_gate_metric(rounds: Rounds, registry: dict[str, Any]) -> None:
    test_every_trainer_succeeds(rounds)
    brier = {v: run.data.metrics["test_brier"] for v, run in registry["runs"].items()}
    champion = registry["aliases"].get("champion")
    assert champion is not None, registry["aliases"]
    assert brier[champion] == min(brier.values()), (champion, brier)
    assert champion != rounds.first_champion, brier  # some trainer beat the weak one
    assert registry["runs"][champion].data.tags["gate_decision"] == "promoted"
    assert registry["aliases"].get("challenger") in registry["versions"]


def test_each_decision_was_against_the_champion_of_its_moment(rounds: Rounds, registry: dict[str, Any]) -> None:
    """Every trainer judged itself against a champion (the weak one at the latest); that champion was scored
    on the same test rows (its score equals its own logged test Brier); a promoted run beat or tied it
    (margin 0), a kept one lost to it; and the promotions form one chain from the weak champion to the last,
    each taking over from the one before: no champion was replaced twice (a lost update would)."""
    test_every_trainer_succeeds(rounds)
    runs = registry["runs"]
    brier = {v: run.data.metrics["test_brier"] for v, run in runs.items()}
    replaced: dict[str, str] = {}  # promoted version -> the champion it took over from
    for version, run in runs.items():
        if version == rounds.first_champion:
            continue
        tags, metrics = run.data.tags, run.data.metrics
        assert tags["gate_reference"].startswith("champion v"), (version, tags)
        held = tags["gate_reference"].removeprefix("champion v")
        assert math.isclose(metrics["gate_reference"], brier[held], rel_tol=1e-9, abs_tol=1e-12), (version, held)
        assert math.isclose(metrics["gate_candidate"], brier[version], rel_tol=1e-9, abs_tol=1e-12), version
        if tags["gate_decision"] == "promoted":
            assert brier[version] <= brier[held], (version, held, brier)
            replaced[version] = held
        else:
            assert tags["gate_decision"] == "kept_as_challenger", tags
            assert brier[version] > brier[held], (version, held, brier)
    assert len(set(replaced.values())) == len(replaced), replaced  # nobody took over the same champion twice
    chain, current = [], registry["aliases"]["champion"]
    while current != rounds.first_champion:
        chain.append(current)
        current = replaced[current]
    assert sorted(chain) == sorted(replaced), (chain, replaced)  # every promotion is a link of that one chain


def test_advisory_lock_serialises_holders_and_times_out(postgres: Any, tmp_path: Path) -> None:
    """The PostgreSQL promotion lock on its own: four threads (four sessions) never overlap, and a waiter
    gives up with TimeoutError after its timeout."""
    import threading
    import time

    from training.locks import plan_lock, promotion_lock

    plan = plan_lock(postgres.mlflow_url, work_dir=tmp_path)
    assert plan.kind == "postgresql"
    journal: list[str] = []

    def hold(who: str) -> None:
        for _ in range(3):
            with promotion_lock(plan, MODEL, timeout_s=120):
                journal.append(f"enter {who}")
                time.sleep(0.05)
                journal.append(f"leave {who}")

    threads = [threading.Thread(target=hold, args=(f"t{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert len(journal) == 4 * 3 * 2, journal
    for enter, leave in zip(journal[::2], journal[1::2], strict=True):
        assert leave == enter.replace("enter", "leave"), journal

    with promotion_lock(plan, MODEL):
        with pytest.raises(TimeoutError), promotion_lock(plan, MODEL, timeout_s=0.5):
            pass
        with promotion_lock(plan, "another-model", timeout_s=5):  # other models' locks stay free
            pass
