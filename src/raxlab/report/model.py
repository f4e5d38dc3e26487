"""Everything a report shows, collected from the store once (reports render saved data,
never live state; style.md §9).

`collect(store, ref)` works on any run:

- a single bench run (kind `compute`, `kernels`, `io`, `bench.comm`, ...) renders its own
  sections; a card or plan it carries as an artifact is used too;
- a pipeline run (kind `run`, made by `rax run`) links its child runs through the artifact
  `stages` = {stage name: run id | [run ids] | {"status", "run_id", "wall_s", "error", ...}};
  its own artifacts `card` and `plan` (the JSON of `rax plan --json`) are used as they are.
  Back-tests (`calibration` artifacts, from `rax calibrate`) are gathered from the pipeline
  run and every child that carries one.

Children are grouped by their own `kind`, so a stage name never decides how a run is read.
A stage whose run is missing from the store is listed in `missing_stages` (the report says
so) instead of failing the whole report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from raxlab.errors import RaxError

PIPELINE_KIND = "run"
COMM_KIND = "bench.comm"


@dataclass
class ReportData:
    root: dict  # the run the report is about (store.get_run form)
    stages: dict[str, list[str]]  # stage name -> run ids ({} for a single bench run)
    runs: dict[str, dict]  # run id -> store.get_run(...) for the root and every child
    card: dict | None
    plan: dict | None
    calibrations: list[dict]  # every distinct `calibration` artifact (compute and comm back-tests)
    store_path: str
    missing_stages: dict[str, str] = field(default_factory=dict)  # stage -> why
    stage_info: dict[str, dict] = field(default_factory=dict)  # stage -> the pipeline's record of it

    @property
    def calibration(self) -> dict | None:
        """The compute back-test (what the guideline's confidence quotes), else the first one."""
        comp = [c for c in self.calibrations if c.get("kind") == "compute"]
        return (comp or self.calibrations or [None])[0]

    def of_kind(self, kind: str) -> list[dict]:
        """Runs of one kind (the root included when it is one), oldest first."""
        found = [r for r in self.runs.values() if r["kind"] == kind]
        return sorted(found, key=lambda r: r["created_at"])

    def latest(self, kind: str) -> dict | None:
        found = self.of_kind(kind)
        return found[-1] if found else None

    def children(self) -> list[dict]:
        return [r for rid, r in self.runs.items() if rid != self.root["id"]]

    def stage_of(self, run_id: str) -> str | None:
        return next((name for name, ids in self.stages.items() if run_id in ids), None)

    def fingerprints(self) -> list[tuple[str, str, dict]]:
        """(run id, role, fingerprint) of every run, root first."""
        out = []
        for run in [self.root, *self.children()]:
            out += [(run["id"], role, fp) for role, fp in run["fingerprints"].items() if isinstance(fp, dict)]
        return out

    def machines(self) -> dict[str, dict]:
        """Distinct machines (by machine id) the numbers were measured on."""
        return {fp.get("machine_id") or fp.get("hostname") or "?": fp for _, _, fp in self.fingerprints()}

    @property
    def workload(self) -> str | None:
        return self.root.get("workload") or (self.card or {}).get("name")

    def to_dict(self) -> dict:
        return {"root": self.root, "stages": self.stages, "runs": self.runs, "card": self.card, "plan": self.plan,
                "calibrations": self.calibrations, "store_path": self.store_path,
                "missing_stages": self.missing_stages, "stage_info": self.stage_info}


def _stage_ids(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, dict) and isinstance(value.get("run_id"), str):
        return [value["run_id"]]  # {"run_id": ..., "status": ...} per stage is accepted too
    return []


def _why_no_run(value) -> str | None:
    """Why a stage has no run to show, or None when it needs none (card, plan: artifacts)."""
    if value is None:
        return "skipped"
    if isinstance(value, dict):
        status = value.get("status")
        if status == "ok":
            return None
        return f"{status or 'no run'}: {value.get('error')}" if value.get("error") else str(status or "no run")
    return f"no run recorded ({value!r})"


def _children(store, stages_art) -> tuple[dict[str, list[str]], dict[str, dict], dict[str, str]]:
    if stages_art is None:
        return {}, {}, {}
    if not isinstance(stages_art, dict):
        raise RaxError("artifact 'stages' must map stage names to run ids", field="RUN")
    stages, runs, missing = {}, {}, {}
    for name, value in stages_art.items():
        ids = _stage_ids(value)
        if not ids and _why_no_run(value):
            missing[name] = _why_no_run(value)
        stages[name] = []
        for rid in ids:
            try:
                run = store.get_run(rid)
            except RaxError as exc:
                missing[name] = str(exc)
                continue
            stages[name].append(run["id"])
            runs[run["id"]] = run
    return stages, runs, missing


def _first_artifact(runs: list[dict], name: str):
    for run in runs:
        art = run["artifacts"].get(name)
        if art is not None:
            return art
    return None


def _calibrations(runs: list[dict]) -> list[dict]:
    """Distinct back-tests (one artifact may be stored on every run it pooled)."""
    out, seen = [], set()
    for run in runs:
        cal = run["artifacts"].get("calibration")
        if isinstance(cal, dict):
            key = (cal.get("kind"), cal.get("run"), str(cal.get("runs")))
            if key not in seen:
                seen.add(key)
                out.append(cal)
    return out


def collect(store, ref: str) -> ReportData:
    """Read the run `ref` (id, prefix or 'latest') and the runs it links; no computation."""
    root = store.get_run(ref)
    stages_art = root["artifacts"].get("stages")
    stages, runs, missing = _children(store, stages_art)
    ordered = [root, *sorted(runs.values(), key=lambda r: r["created_at"])]
    # The pipeline's own card/plan win; a child's (the compute run stores its card) fills in.
    return ReportData(
        root=root, stages=stages, runs={r["id"]: r for r in ordered},
        card=_first_artifact(ordered, "card"), plan=_first_artifact(ordered, "plan"),
        calibrations=_calibrations(ordered), store_path=str(store.path), missing_stages=missing,
        stage_info={k: v for k, v in (stages_art or {}).items() if isinstance(v, dict)},
    )
