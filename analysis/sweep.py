r"""Sweeps: a grid of (language, L, N, schedule, policy, seed) cells, one tidy row per cell.

Each finished cell is written atomically to ``OUT/cells/<cache key>.json`` (temporary file, then
``os.replace``), so a run killed at any moment loses at most the cells in flight and a rerun of
the same command skips finished cells. The cache key (:func:`cache_key`) hashes everything that
determines a cell's row: the cell, the settings of the config that change rows (samples, target_ci,
max_samples, kl, base_seed), the bytes of a language file (or the spec text) and the mdmlab version,
so a rerun with other settings never reuses a stale row, and two sweeps with different settings can
share one ``OUT``. Unreadable cell files (zero length after a power loss) count as missing and are
recomputed. Cells draw their randomness from ``SeedSequence([base_seed, hash(cell)])``, and the
entropy and mutual information of a (language, L) from ``SeedSequence([base_seed, hash(language), L])``
(one estimate shared by the cells of that length), so results do not depend on the worker count or order.

Workers are daemon-like: each polls its parent and exits when the sweep's process dies (and on Linux
asks the kernel for SIGKILL on the parent's death), so killing a sweep leaves no orphan.
"""
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from multiprocessing import get_context

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mdmlab import models
from mdmlab import synth
from mdmlab import theory
from mdmlab.analysis import cluster, metrics
from mdmlab.analysis.manifest import manifest
from mdmlab.models import schedules


@dataclasses.dataclass(frozen=True)
class Cell:
    """One point of the grid; ``key`` names it stably across runs."""

    language: str
    length: int
    steps: int
    schedule: str
    policy: str
    seed: int

    @property
    def key(self):
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    r"""What to run.

    ``steps`` are absolute N; ``steps_per_length`` are fractions f with N = max(1, round(f L)); cells
    with N > L are skipped. ``samples`` draws per cell, or with ``target_ci`` batches of ``samples``
    until the SER interval half-width and the TER standard error are both <= ``target_ci`` (at most
    ``max_samples``). ``kl`` adds E_M KL(q || p_M) and the Li & Cai bound (random policy only).
    ``seeds`` is the number of replicates R of each cell (``--replicates``; cells seed = 0 .. R-1).
    ``manifest.json`` records every field, so ``mdmlab sweep --from`` replays the config exactly.
    """

    languages: tuple
    lengths: tuple
    steps: tuple = ()
    steps_per_length: tuple = ()
    schedules: tuple = ("linear",)
    policies: tuple = ("random",)
    seeds: int = 1
    samples: int = 256
    target_ci: float = None
    max_samples: int = 16384
    kl: bool = False
    base_seed: int = 0

    def cells(self):
        out = []
        for lang, L, sched, pol, seed in itertools.product(self.languages, self.lengths, self.schedules,
                                                           self.policies, range(self.seeds)):
            grid = sorted({*self.steps, *(max(1, round(f * L)) for f in self.steps_per_length)})
            out += [Cell(lang, L, N, sched, pol, seed) for N in grid if N <= L]
        return out


#: SweepConfig fields that change a cell's row (besides the cell itself): part of the cache key.
ROW_SETTINGS = ("samples", "target_ci", "max_samples", "kl", "base_seed")


def _mdmlab_version():
    try:
        return version("mdmlab")
    except PackageNotFoundError:  # a source tree that was not installed
        return "unknown"


@lru_cache(maxsize=64)
def _file_digest(path, mtime_ns, size):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def language_digest(spec):
    r"""What identifies a language's content: the sha256 of the file's bytes for a saved language
    file (so editing the file invalidates its cells), else the spec text itself."""
    if os.path.isfile(spec):
        st = os.stat(spec)
        return "sha256:" + _file_digest(os.path.abspath(spec), st.st_mtime_ns, st.st_size)
    return "spec:" + spec


def cache_key(cell, config, digests=None):
    r"""The name of ``cell``'s file under ``cells/``: a hash of the cell, the row-changing settings of
    ``config`` (:data:`ROW_SETTINGS`), the language's content (:func:`language_digest`) and the mdmlab
    version. ``cell.key`` (cell only) seeds the randomness; this key decides reuse."""
    lang = (digests or {}).get(cell.language) or language_digest(cell.language)
    payload = {"cell": dataclasses.asdict(cell), "settings": {f: getattr(config, f) for f in ROW_SETTINGS},
               "language": lang, "mdmlab": _mdmlab_version()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def run_sweep(config, out_dir, *, workers=None, progress=True, fresh=False, scheduler=None):
    r"""Run every unfinished cell of ``config`` into ``out_dir``; return the tidy table (DataFrame).

    Writes ``cells/*.json``, ``results.csv`` (and ``results.parquet`` when pyarrow is installed) and
    ``manifest.json`` (config, the cache keys of the cells in the table, package versions, git
    revision). A cell whose file exists under its cache key is reused (said on screen when
    ``progress``); ``fresh=True`` recomputes every cell. ``workers`` is capped at the number of
    cells to run and the cores. On Ctrl-C the finished cells stay on disk (a rerun resumes) and
    ``KeyboardInterrupt`` propagates. ``scheduler`` (``"local"``, ``"local:N"`` or
    ``"tcp://host:port"``) runs the cells as tasks on a Dask cluster instead of the local pool
    (:mod:`mdmlab.analysis.cluster`): the same cell function and seeding, cell files written here.
    """
    out_dir = os.fspath(out_dir)
    if not out_dir:
        raise ValueError("out_dir must name a folder, got ''")
    cells_dir = os.path.join(out_dir, "cells")
    os.makedirs(cells_dir, exist_ok=True)
    digests = {spec: language_digest(spec) for spec in config.languages}
    cells, todo, keys = cells_to_run(config, out_dir, fresh=fresh, say=progress, digests=digests)
    reused = len(cells) - len(todo)
    _warn_kl(config, cells)
    if scheduler is not None:
        cluster.parse_scheduler(scheduler)  # a bad address is refused before any work
    workers = _cap_workers(workers, len(todo), progress and scheduler is None)
    where = f"on the Dask scheduler {scheduler}" if scheduler else f"on {workers} worker{'s' if workers > 1 else ''}"
    if progress:
        print(f"sweep {out_dir}: {len(cells)} cells, {reused} reused from earlier runs, {len(todo)} to run"
              + (f" {where}" if todo else ""), file=sys.stderr)
    bar = tqdm(total=len(cells), initial=reused, unit="cell", desc="sweep", disable=not progress)
    try:
        with bar:
            if scheduler is not None and todo:
                _run_on_dask(todo, config, cells_dir, keys, scheduler, bar)
            else:
                _run_cells(todo, config, cells_dir, keys, workers, bar)
    except KeyboardInterrupt:
        done = sum(_read_cell(cells_dir, keys[c], False) is not None for c in cells)
        print(f"\ninterrupted: {done} of {len(cells)} cells are finished in {cells_dir}; "
              f"rerun the same command to resume", file=sys.stderr)
        raise
    table = load_table(config, out_dir, keys=keys)
    _warn_fewer_rows(table, cells_dir)
    in_table = [keys[c] for c in cells if _read_cell(cells_dir, keys[c], False) is not None]
    with _locked(out_dir):  # results.csv, results.parquet and manifest.json of one run, never of two
        table.to_csv(os.path.join(out_dir, "results.csv"), index=False)
        _maybe_parquet(table, out_dir)
        _write_json(os.path.join(out_dir, "manifest.json"),
                    manifest(config=dataclasses.asdict(config), languages=digests, cells=in_table))
    return table


@contextlib.contextmanager
def _locked(out_dir):
    r"""Hold an exclusive lock on ``out_dir/.lock`` (POSIX ``flock``; none where fcntl is missing), so two
    sweeps sharing one folder write their tables and manifests one after the other."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with open(os.path.join(out_dir, ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def cells_to_run(config, out_dir, *, fresh=False, say=False, digests=None):
    r"""``(cells, todo, keys)``: every cell of ``config``, those without a readable file under their
    cache key in ``out_dir/cells`` (all of them when ``fresh``), and each cell's cache key. Reads only."""
    cells_dir = os.path.join(os.fspath(out_dir), "cells")
    cells = config.cells()
    keys = {c: cache_key(c, config, digests) for c in cells}
    todo = cells if fresh else [c for c in cells if _read_cell(cells_dir, keys[c], say) is None]
    return cells, todo, keys


def _warn_kl(config, cells):
    r"""``kl=True`` where it measures nothing: E_M KL(q || p_M) is drawn for the random policy only, and
    the Li & Cai bound needs a fixed-count schedule (a deterministic s_max); one stderr line each."""
    if not config.kl:
        return
    policies = sorted({c.policy for c in cells} - {"random"})
    if policies:
        print(f"sweep: warning: --kl measures E_M KL(q || p_M) for the random policy only; the cells with policy "
              f"{', '.join(policies)} get no kl_q_pm", file=sys.stderr)
    first = {c.schedule: c for c in reversed(cells)}  # one cell per schedule
    ancestral = sorted(name for name, c in first.items() if schedules.resolve(name, c.length, c.steps).kind != "fixed")
    if ancestral and "random" in {c.policy for c in cells}:
        print(f"sweep: warning: --kl gives no Li & Cai bound under schedule {', '.join(ancestral)} (its counts are "
              f"random: s_max is not fixed); li_cai_bound is NaN there, kl_q_pm is still measured", file=sys.stderr)


def _warn_fewer_rows(table, cells_dir):
    r"""Say so when ``results.csv`` is about to hold fewer rows than ``cells/`` holds cell files."""
    stored = sum(name.endswith(".json") for name in os.listdir(cells_dir))
    if stored > len(table):
        print(f"sweep: warning: results.csv now holds {len(table)} cells, but {cells_dir} holds {stored} "
              f"(earlier runs with another grid or settings); their rows are left out of the table: rerun their "
              f"command to get them back, or give each sweep its own --out", file=sys.stderr)


def _cap_workers(workers, n_todo, progress):
    """``workers`` (None: all cores) capped at the cells to run and the cores, saying so."""
    cores = os.cpu_count() or 1
    asked = cores if workers is None else int(workers)
    if asked < 1:
        raise ValueError(f"workers must be >= 1, got {asked}")
    capped = max(1, min(asked, cores, n_todo))
    if workers is not None and capped < asked and progress:
        print(f"sweep: using {capped} workers, not {asked} ({n_todo} cells to run, {cores} cores)", file=sys.stderr)
    return capped


def _run_on_dask(todo, config, cells_dir, keys, scheduler, bar):
    r"""Cells as Dask tasks; the client stores each row as it arrives (workers share no files)."""
    def store(cell, row):
        _store(cells_dir, keys[cell], row)
        bar.update()

    if cluster.parse_scheduler(scheduler)[0] == "local":
        _warm_kernels(todo[0], config)  # a LocalCluster's workers share this machine's numba cache
    with cluster.client_for(scheduler) as client:
        cluster.run_on_client(client, _run_cell_one_thread, todo, (config,), store)


#: the pool lent by :func:`shared_pool` to every sweep and N* search run inside it; None outside
_SHARED = None


def new_pool(workers):
    r"""A process pool of ``workers`` sweep workers (spawned; each exits with this process)."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init,
                               initargs=(os.getpid(),))


def kill_pool(pool):
    r"""Stop ``pool`` now: queued work is cancelled and the work in flight is lost."""
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()


class _LentPool:
    """A pool started on first use (a rerun that reuses every cell starts no worker)."""

    def __init__(self, workers):
        self.workers, self.pool = workers, None

    def get(self):
        if self.pool is None:
            self.pool = new_pool(self.workers)
        return self.pool


def pool_for(workers):
    r"""``(pool, lent)``: the pool :func:`shared_pool` lends (lent: do not shut it down), else a new one."""
    return (_SHARED.get(), True) if _SHARED is not None else (new_pool(workers), False)


@contextlib.contextmanager
def shared_pool(workers=None):
    r"""One pool of ``workers`` (None: every core) for all the sweeps and N* searches run inside, as
    ``mdmlab report`` runs its preset: the workers start and load the kernels once (about 2.4 s of
    wall time per pool here) instead of once per sweep; started only if some cell needs it."""
    global _SHARED
    lent = _LentPool(max(1, workers or os.cpu_count() or 1))
    _SHARED = lent
    try:
        yield lent
    except BaseException:
        if lent.pool is not None:
            kill_pool(lent.pool)
        raise
    finally:
        _SHARED = None
    if lent.pool is not None:
        lent.pool.shutdown()


def _run_cells(todo, config, cells_dir, keys, workers, bar):
    if workers == 1 or len(todo) <= 1:
        for cell in todo:
            _store(cells_dir, keys[cell], run_cell(cell, config))
            bar.update()
        return
    _warm_kernels(todo[0], config)
    pool, lent = pool_for(workers)
    try:
        futures = {pool.submit(run_cell, c, config): c for c in _longest_first(todo, config)}
        for fut in as_completed(futures):
            _store(cells_dir, keys[futures[fut]], fut.result())
            bar.update()
    except BaseException:
        kill_pool(pool)  # cells in flight are lost; finished ones are on disk
        raise
    if not lent:
        pool.shutdown()


def _longest_first(cells, config):
    r"""``cells`` by predicted time, longest first (:mod:`analysis.cost`), so that the pool's last
    cells are short ones and no core idles behind one long cell. Rows do not depend on the order."""
    from mdmlab.analysis import cost

    per, _, _ = cost.predict_sweep(cost.load(), cells, config, None)
    return [cells[i] for i in np.argsort(-np.asarray(per), kind="stable")]


def load_table(config, out_dir, *, keys=None):
    """The rows of ``config``'s finished cells (those stored under their cache key), in grid order."""
    cells_dir = os.path.join(os.fspath(out_dir), "cells")
    rows = []
    for cell in config.cells():
        row = _read_cell(cells_dir, keys[cell] if keys else cache_key(cell, config), False)
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows)


def _read_cell(cells_dir, key, say):
    """The stored row, or None if missing or unreadable (a zero-length or torn file: said when ``say``)."""
    path = os.path.join(cells_dir, key + ".json")
    try:
        with open(path) as fh:
            row = json.load(fh)
        if isinstance(row, dict):
            return row
        problem = "not a JSON object"
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        problem = f"{type(err).__name__}: {err}"
    if say:
        print(f"sweep: cell file {path} is unreadable ({problem}); recomputing it", file=sys.stderr)
    return None


def _warm_kernels(cell, config):
    r"""Compile once: a small run of ``cell`` here (its row discarded) fills numba's on-disk cache
    with the kernels of its path, so the workers load them instead of each compiling them."""
    run_cell(cell, dataclasses.replace(config, samples=min(config.samples, 16), target_ci=None))


def _worker_init(parent_pid):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the pool
    _one_thread()
    _exit_with_parent(parent_pid)


def _exit_with_parent(parent_pid, poll_seconds=0.5):
    r"""End this worker when ``parent_pid`` dies: PR_SET_PDEATHSIG on Linux (the kernel sends SIGKILL),
    and everywhere a daemon thread that polls ``os.getppid()``."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the polling thread below still covers it
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="mdmlab-parent-watchdog", daemon=True).start()


def _one_thread():
    import numba

    numba.set_num_threads(1)  # parallelism comes from the process pool


def _run_cell_one_thread(cell, config):
    r""":func:`run_cell` with one numba thread, as a Dask task: numba's thread count is per calling
    thread and Dask runs tasks in its executor's threads, so ``client.run`` of :func:`_one_thread`
    did not reach them (each cell then used every core and two workers ran no faster than one)."""
    _one_thread()
    return run_cell(cell, config)


def _store(cells_dir, key, row):
    _write_json(os.path.join(cells_dir, key + ".json"), row)


def _write_json(path, obj):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, indent=1, default=_jsonable)
            fh.flush()
            os.fsync(fh.fileno())  # the bytes reach the disk before the name does (power loss)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise  # atomic: a reader sees the old file or the whole new one


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _maybe_parquet(table, out_dir):
    r"""``results.parquet`` beside ``results.csv`` (same rows and columns) when pyarrow is installed;
    without it, a stale Parquet file of an earlier run is removed so it cannot disagree with the CSV."""
    path = os.path.join(out_dir, "results.parquet")
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # pyarrow is optional: the CSV is the table of record
        if os.path.exists(path):
            os.remove(path)
            print(f"sweep: removed {path} (pyarrow is not installed to rewrite it; results.csv is current)",
                  file=sys.stderr)
        return
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".parquet.tmp")
    os.close(fd)
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@lru_cache(maxsize=64)
def _language(spec, digest=None):
    r"""The language of ``spec``; ``digest`` (:func:`language_digest`) keys the cache, so an edited
    language file is read again."""
    return synth.from_spec(spec)


@lru_cache(maxsize=256)
def _entropy_per_token(spec, digest, L, seed):
    h = _language(spec, digest).entropy(L, rng=seed)
    return h.nats / L, h.stderr / L


@lru_cache(maxsize=256)
def _mutual_information(spec, digest, L, seed):
    return theory.total_mutual_information(_language(spec, digest), L, rng=seed).nats


def _length_seeds(base_seed, digest, L):
    r"""Seeds of the entropy and the mutual information of one (language, L): every cell of that
    language and length shares one estimate (Monte Carlo for an HMM, about 2 s at L = 1024), computed
    once per worker process and cached, instead of one per cell."""
    lang = int(hashlib.sha256(digest.encode()).hexdigest()[:15], 16)
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence([base_seed, lang, L]).spawn(2)]


def clear_caches():
    r"""Forget the cached entropies and mutual informations (so a cell timed twice pays for them twice)."""
    _entropy_per_token.cache_clear()
    _mutual_information.cache_clear()


def run_cell(cell, config):
    r"""Sample one cell and measure every metric; returns the row as a dict."""
    t0 = time.perf_counter()
    digest = language_digest(cell.language)
    lang = _language(cell.language, digest)
    seq = np.random.SeedSequence([config.base_seed, int(cell.key[:15], 16)])
    rng_sample, rng_kl = (np.random.default_rng(s) for s in seq.spawn(2))
    L, N = cell.length, cell.steps
    seed_h, seed_mi = _length_seeds(config.base_seed, digest, L)
    res = _draw(lang, cell, config, rng_sample)
    h, h_se = _entropy_per_token(cell.language, digest, L, seed_h)
    row = {**dataclasses.asdict(cell), "samples": int(res.tokens.shape[0]), "entropy_per_token": h}
    log_q = lang.log_prob(res.tokens)  # once for every metric below
    _put(row, "ser", metrics.ser(lang, res.tokens, log_q=log_q))
    _put(row, "log_ter", metrics.log_ter(lang, res.tokens, log_q=log_q))
    gap = metrics.ter_gap(lang, res.tokens, h, log_q=log_q)
    _put(row, "ter_gap", gap._replace(stderr=float(np.hypot(gap.stderr, h_se))))
    _put(row, "kl_pm_q", metrics.kl_pm_q(lang, res, log_q=log_q))
    _put(row, "diversity", metrics.diversity(res.tokens, lang.vocab_size))
    row["nfe"] = float(res.nfe.mean())
    plan = schedules.resolve(cell.schedule, L, N)
    row["s_max"] = plan.max_per_step if plan.kind == "fixed" else int(res.counts.max())
    ser_exact = theory.closed_form_ser(lang, plan, policy=cell.policy)
    row["ser_closed_form"] = float("nan") if ser_exact is None else ser_exact
    if config.kl and cell.policy == "random":
        _put(row, "kl_q_pm", metrics.kl_q_pm(lang, L, N, samples=row["samples"], schedule=cell.schedule, rng=rng_kl))
        mi = _mutual_information(cell.language, digest, L, seed_mi)
        row["mutual_information"] = mi
        # the bound needs a deterministic s_max: fixed counts only (ancestral counts are random)
        row["li_cai_bound"] = (float(theory.LI_CAI_KL.evaluate(s_max=row["s_max"], length=L, mutual_information=mi))
                               if plan.kind == "fixed" else float("nan"))
    row["seconds"] = time.perf_counter() - t0
    return row


def _draw(lang, cell, config, rng):
    """Sample ``samples`` sequences, or batches until the target interval widths are met."""
    kw = dict(schedule=cell.schedule, policy=cell.policy, rng=rng)
    res = models.sample(lang, cell.length, cell.steps, size=config.samples, **kw)
    if config.target_ci is None:
        return res
    parts = [res]
    while sum(p.tokens.shape[0] for p in parts) < config.max_samples:
        tokens = np.concatenate([p.tokens for p in parts])
        s, t = metrics.ser(lang, tokens), metrics.log_ter(lang, tokens)
        if (s.high - s.low) / 2 <= config.target_ci and not (np.isfinite(t.stderr) and t.stderr > config.target_ci):
            break
        parts.append(models.sample(lang, cell.length, cell.steps, size=config.samples, **kw))
    cat = {f: np.concatenate([getattr(p, f) for p in parts]) for f in ("tokens", "reveal_step", "counts",
                                                                         "nfe", "log_prob_sampler")}
    return dataclasses.replace(res, **cat)


def _put(row, name, est):
    row[name] = est.value
    if np.isfinite(est.stderr) or name != "ser":
        row[name + "_se"] = est.stderr
    row[name + "_low"], row[name + "_high"] = est.low, est.high

