r"""Sweep cells as tasks on a Dask distributed cluster (``mdmlab sweep --scheduler ...``).

One execution path with the local pool: the same cell function (``sweep.run_cell``), the same
seeding (a ``SeedSequence`` per cell, from the cell alone, so results do not depend on where or in
which order cells run) and the same atomic cell files, written by the *client* as results arrive,
so workers need no shared filesystem. A worker that dies loses only its cells in flight: the
scheduler reruns them elsewhere (``retries``), and a client killed mid-run resumes from the cell
files on the next invocation.

Schedulers: ``local`` or ``local:N`` start a ``LocalCluster`` of N single-threaded worker processes
on this machine (N defaults to the cores); ``tcp://HOST:PORT`` connects to a running scheduler
(``dask scheduler`` plus ``dask worker tcp://HOST:PORT`` on each machine, or ``dask-jobqueue``'s
``SLURMCluster`` on a cluster: pass its ``scheduler_address``).
"""
import contextlib
import os

#: times the scheduler may rerun a cell whose worker died before giving up on it.
RETRIES = 3


def parse_scheduler(text):
    r"""``("local", n_workers or None)`` or ``("address", "tcp://...")``; one-line ValueError otherwise."""
    if text == "local" or text.startswith("local:"):
        _, _, n = text.partition(":")
        if n and (not n.isdigit() or int(n) < 1):
            raise ValueError(f"--scheduler local:N needs a whole number N >= 1 of workers, got {text!r}")
        return "local", (int(n) if n else None)
    if "://" in text:
        return "address", text
    raise ValueError(f"--scheduler must be 'local', 'local:N' or a scheduler address such as "
                     f"'tcp://host:8786', got {text!r}")


@contextlib.contextmanager
def client_for(text):
    r"""A ``distributed.Client`` for ``text`` (see :func:`parse_scheduler`), closed (with its local
    cluster) on exit."""
    kind, value = parse_scheduler(text)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--scheduler needs dask.distributed: pip install 'mdmlab[cluster]'") from None
    if kind == "local":
        n = value or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        with cluster, Client(cluster) as client:
            yield client
    else:
        with Client(value, timeout="30s") as client:
            yield client


def run_on_client(client, fn, items, args, on_result):
    r"""Submit ``fn(item, *args)`` for every item and call ``on_result(item, result)`` as each
    arrives (in completion order); tasks of dead workers are rerun up to :data:`RETRIES` times."""
    from distributed import as_completed

    futures = {client.submit(fn, item, *args, pure=False, retries=RETRIES): item for item in items}
    try:
        for fut in as_completed(futures):
            on_result(futures[fut], fut.result())
    except BaseException:
        client.cancel(list(futures))
        raise
