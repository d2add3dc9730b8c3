"""The performance model of the heat problem's stepping
(docs/performance.md): what one time step costs a rank, from figures measured by
`miniapp bench` (update rates in and out of cache, MPI latency and bandwidth
between ranks, the thread pool's fork-join round), and what the slowest rank
makes of a strong- or weak-scaling run.

It follows the code's structure: with a halo one point deep the exchange
overlaps the interior (Open MPI has no progress thread; the main thread
drives it between chunks of its rows), then the strips next to exchanged
sides are computed; with a halo k deep one exchange (not overlapped) is
followed by k sweeps, each one point less into the halo. Between ranks of
one host a message is a copy the main thread makes inside MPI (CPU time,
never hidden); across hosts the network's latency and bandwidth apply and
the interior hides them, all but what they cost the CPU, which the bench
measures (TCP's system calls and copies into and out of the kernel).
Ranks compete for the cores, memory and cache of their machine, which is
their host, or several hosts of a test bed on one machine (network
namespaces share a kernel: `/decomposition/machines`). The model predicts
the stepping time (`stepping_seconds` of a result file); of diagnostics and
solvers it predicts the exact reductions across ranks (one MPI_Allreduce
each, as the bench measured them for the ranks and hosts), not the passes
over the field that feed them. Output is not modelled."""

import functools
import json
import math
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .results import ReportError

CLOCK_READS_PER_STEP = 10     # the phase timers (docs/performance.md)


def miniapp_binary():
    """The miniapp whose plans the model reads: $MINIAPP, else the checkout's
    ./miniapp (scripts/setup), else the first on PATH."""
    given = os.environ.get("MINIAPP")
    if given:
        return given
    checkout = Path(__file__).resolve().parents[2] / "miniapp"
    if checkout.exists():
        return str(checkout)
    found = shutil.which("miniapp")
    if found:
        return found
    raise ReportError("the performance model reads the decomposition from `miniapp plan`: build miniapp "
                      "(scripts/setup) or set MINIAPP to its path")


@functools.lru_cache(maxsize=None)
def miniapp_plan(nx, ny, ranks):
    """`miniapp plan` for one number of ranks: the process grid and blocks a
    run chooses, and the fields' row alignment. It runs as one process of its
    own, outside any launcher or job step (MPI_Dims_create on its own)."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SLURM_", "OMPI_", "PMI_", "PMIX_", "HYDRA_", "MPI_LOCALNRANKS"))}
    command = [miniapp_binary(), "plan", "--grid", f"{nx}x{ny}", "--ranks", str(ranks)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment)
    except OSError as error:
        raise ReportError(f"cannot run {command[0]}: {error}")
    if result.returncode != 0:
        raise ReportError(f"{' '.join(command)}: {result.stderr.strip() or result.returncode}")
    document = json.loads(result.stdout)
    return document["plans"][0], document["row_alignment"]


@dataclass(frozen=True)
class Machine:
    """One node as `miniapp bench` measured it (rates in updates/s, times in s)."""
    cores: int
    cache_bytes: int
    in_cache: tuple       # (one core, all cores): the plain sweep on a grid in cache
    from_memory: dict     # (streaming stores, software prefetch) -> (one core, all cores)
    latency: float        # one halo message between two ranks of the node
    bandwidth: float      # bytes/s of a large one
    fork_join: dict       # threads -> seconds per fork-join round
    clock_read: float
    network_latency: float = None
    network_bandwidth: float = None
    # What a network message costs the CPU, which no overlap hides (TCP's
    # copies into and out of the kernel, its system calls): the share of a
    # large exchange's time that overlapping it did not save (bench section
    # 7: 1 - time saved / exchange), and the time a small exchange with one
    # neighbour adds to an interior that is much longer than it.
    network_unhidden: float = 0.0
    network_overhead: float = 0.0
    # Seconds of one exact reduction (a heat diagnostic's: three sums, four
    # maxima) by ranks on one node (bench section 5), and by hosts, one rank
    # on each (section 7).
    reductions: dict = None
    network_reductions: dict = None

    @classmethod
    def from_bench(cls, path, network_latency=None, network_bandwidth=None, network_bench=None):
        """Reads a `miniapp bench --json` file. Figures for runs whose ranks
        span several hosts (s, B/s) are given, or read from section 7 of
        `network_bench` (`miniapp bench --network-only --hostfile ...`) or of
        the file itself (`miniapp bench --hostfile ...`)."""
        data = read_bench(path)
        try:
            cores, cache = int(data["machine"]["cores"]), int(data["machine"]["last_level_cache_bytes"])
            kernel, mpi, threads = data["heat_kernel"], data["mpi"], data["threads"]
        except (KeyError, TypeError) as error:
            raise ReportError(f"{path}: not the JSON of `miniapp bench` ({error.__class__.__name__}: {error})")

        grids = sorted({row["grid"] for row in kernel})
        small, large = grids[0], grids[1:]
        if not large:
            raise ReportError(f"{path}: the bench measured no grid larger than the cache")

        def rates(grid_list, scheme):
            rows = [r for r in kernel if r["grid"] in grid_list and r["scheme"] == scheme]
            one = [r["mlups"] for r in rows if r["ranks"] * r["threads"] == 1]
            full = [r["mlups"] for r in rows if r["ranks"] * r["threads"] == cores]
            if not one or not full:
                return None
            return statistics.median(one) * 1e6, statistics.median(full) * 1e6

        in_cache = rates([small], "plain")
        from_memory = {key: value for key, value in {
            (True, True): rates(large, "plain, streaming"), (False, True): rates(large, "plain"),
            (False, False): rates(large, "plain, no prefetch")}.items() if value}
        if not in_cache or (False, True) not in from_memory:
            raise ReportError(f"{path}: the bench has no plain-sweep rows for 1 core and all {cores}")

        latency, bandwidth = latency_and_bandwidth(mpi, path)
        unhidden = overhead = 0.0
        network = read_bench(network_bench).get("mpi_network") if network_bench else data.get("mpi_network")
        if network_bench and network is None:
            raise ReportError(f"{network_bench}: no measurement between hosts (run `miniapp bench --network-only "
                              "--hostfile FILE`)")
        if network is not None:
            measured_latency, measured_bandwidth = latency_and_bandwidth(network, network_bench or path)
            network_latency = measured_latency if network_latency is None else network_latency
            network_bandwidth = measured_bandwidth if network_bandwidth is None else network_bandwidth
            saved = network.get("overlap", {}).get("time_saved_fraction")
            unhidden = 1.0 - min(1.0, max(0.0, saved)) if saved is not None else 0.0
            small = network.get("overlap_small", {})
            if "overlapped_ms" in small and "compute_ms" in small:
                overhead = max(0.0, small["overlapped_ms"] - small["compute_ms"]) * 1e-3
        fork_join = {int(key.split("_")[3]): value * 1e-6 for key, value in threads.items()
                     if key.startswith("fork_join_us_")}
        reductions = reduction_times(data.get("allreduce", []))
        network_reductions = {}
        if network is not None:
            rows = [{"ranks": 2, "hosts": 2, "allreduce_us": network.get("allreduce_us", {})}]
            network_reductions = reduction_times(rows + [network.get("allreduce_hosts", {})])
        return cls(cores=cores, cache_bytes=cache, in_cache=in_cache, from_memory=from_memory, latency=latency,
                   bandwidth=bandwidth, fork_join=fork_join,
                   clock_read=threads.get("clock_read_ns", 25.0) * 1e-9,
                   network_latency=network_latency, network_bandwidth=network_bandwidth, network_unhidden=unhidden,
                   network_overhead=overhead, reductions=reductions, network_reductions=network_reductions)

    def rate_per_core(self, cores_busy, fields_in_cache, streaming, prefetch, time_sliced=False):
        """Updates/s of one core while `cores_busy` cores of its node sweep:
        linear in the cores until the node's rate (measured with all of them).
        `time_sliced`: more threads than cores on a machine that several
        hosts share (a test bed), each getting its share of the cores."""
        if cores_busy > self.cores and not time_sliced:
            raise ReportError(f"{cores_busy} cores busy on a node, but the bench ran on {self.cores}: run "
                              f"`miniapp bench` on a node of the machine the model is for")
        if fields_in_cache:
            one, full = self.in_cache
        else:
            key = (streaming, prefetch)
            if key not in self.from_memory:
                raise ReportError("the bench has no rate for the plain sweep with "
                                  f"{'streaming' if streaming else 'ordinary'} stores "
                                  f"{'and' if prefetch else 'without'} software prefetch")
            one, full = self.from_memory[key]
        return min(min(cores_busy, self.cores) * one, full) / cores_busy

    def fork_join_seconds(self, threads):
        if threads == 1:
            return 0.0
        if threads in self.fork_join:
            return self.fork_join[threads]
        known = sorted(self.fork_join)
        return self.fork_join[max([t for t in known if t <= threads] or known[:1])] if known else 0.0

    def reduction_seconds(self, ranks, hosts=1):
        """One exact reduction (a diagnostic's) over `ranks` ranks on `hosts`
        hosts: the measurement for the nearest count at or above (the largest
        measured beyond it); across hosts, the hosts' figure plus the one of
        the ranks of a host. None where the bench measured none."""
        def nearest(table, n):
            if not table:
                return None
            above = [k for k in sorted(table) if k >= n]
            return table[above[0] if above else max(table)]
        if ranks <= 1:
            return 0.0
        on_node = nearest(self.reductions, -(-ranks // hosts)) if ranks > hosts else 0.0
        if hosts <= 1:
            return on_node
        between = nearest(self.network_reductions, hosts)
        return None if between is None or on_node is None else between + on_node

    def message_seconds(self, nbytes, same_host):
        if same_host:
            return self.latency + nbytes / self.bandwidth
        if self.network_latency is None or self.network_bandwidth is None:
            raise ReportError("ranks on several hosts: give --network-bench (`miniapp bench --network-only "
                              "--hostfile FILE`) or --network-latency and --network-bandwidth")
        return self.network_latency + nbytes / self.network_bandwidth


def read_bench(path):
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file")
    except ValueError as error:
        raise ReportError(f"{path}: not the JSON of `miniapp bench` ({error.__class__.__name__}: {error})")


def reduction_times(rows):
    """{ranks or hosts: seconds of a diagnostic's exact reduction} from the
    bench's allreduce rows (keyed by hosts where they span several)."""
    table = {}
    for row in rows:
        figures = row.get("allreduce_us", {}) if isinstance(row, dict) else {}
        if "diagnostic" in figures:
            key = row["hosts"] if row.get("hosts", 1) > 1 else row["ranks"]
            table[key] = figures["diagnostic"] * 1e-6
    return table


def latency_and_bandwidth(section, path):
    """A message's latency (the median of small ones) and a large one's
    bandwidth, from the halo exchange table of a bench section."""
    try:
        exchange = section["halo_exchange"]
        small_messages = [r["microseconds"] * 1e-6 for r in exchange if r["bytes"] <= 256]
        latency = statistics.median(small_messages) if small_messages else None
        large_messages = [r["bytes"] / (r["microseconds"] * 1e-6 - latency) for r in exchange
                          if latency is not None and r["bytes"] >= 256 * 1024 and r["microseconds"] * 1e-6 > latency]
    except (KeyError, TypeError) as error:
        raise ReportError(f"{path}: not the JSON of `miniapp bench` ({error.__class__.__name__}: {error})")
    if not small_messages or not large_messages:
        raise ReportError(f"{path}: the bench's halo exchange has no small or no large messages")
    return latency, statistics.median(large_messages)


@dataclass(frozen=True)
class Layout:
    """A run's decomposition: process grid, coordinates and host of each rank."""
    nx: int
    ny: int
    dims: tuple
    periods: tuple
    threads: int
    coords: list          # per rank (cx, cy)
    sizes: list           # per rank (bx, by): its block
    hosts: list           # per rank, any hashable: messages between hosts cross the network
    machines: list = None # per rank: ranks of one machine share its cores and memory (default: the hosts)

    def __post_init__(self):
        if self.machines is None:
            object.__setattr__(self, "machines", list(self.hosts))

    @classmethod
    def planned(cls, nx, ny, ranks, threads, ranks_per_node, periods=(False, False), one_machine=False):
        """The layout a run chooses (`miniapp plan`), its Cartesian ranks
        filling the nodes in turn. `one_machine`: the nodes are hosts of one
        machine (a test bed)."""
        plan, _ = miniapp_plan(nx, ny, ranks)
        dims = tuple(plan["dims"])
        coords = [tuple(c) for c in plan["coords"]]
        sizes = [tuple(b) for b in plan["sizes"]]
        hosts = [r // ranks_per_node for r in range(ranks)]
        return cls(nx, ny, dims, tuple(periods), threads, coords, sizes, hosts, [0] * ranks if one_machine else None)

    @classmethod
    def of_run(cls, run):
        a = run.attributes
        dims = tuple(int(d) for d in a["dims"]) if "dims" in a else (run.ranks, 1)
        periods = tuple(bool(p) for p in a["periods"]) if "periods" in a else (False, False)
        coords = [tuple(int(v) for v in c) for c in run.decomposition["coords"]]
        sizes = [tuple(int(v) for v in b) for b in run.decomposition["sizes"]]

        def names(key):
            values = run.decomposition.get(key)
            return None if values is None else [v.decode() if isinstance(v, bytes) else str(v) for v in values]
        hosts = names("hostnames") or ["localhost"] * run.ranks
        return cls(run.nx, run.ny, dims, periods, run.threads, coords, sizes, hosts, names("machines"))

    def block(self, coords):
        """Block size of the rank at `coords`."""
        return self.sizes[self.coords.index(tuple(coords))]

    def neighbour(self, coords, offset):
        """Coordinates of the neighbour at `offset`, or None (no rank there, or itself)."""
        result = []
        for c, d, p, periodic in zip(coords, offset, self.dims, self.periods):
            n = c + d
            if not 0 <= n < p:
                if not periodic:
                    return None
                n %= p
            result.append(n)
        return None if tuple(result) == tuple(coords) else tuple(result)


@dataclass(frozen=True)
class Prediction:
    """Seconds per step of the slowest rank, and what they are made of."""
    step: float
    compute: float        # stencil sweeps (interior, strips, redundant halo points)
    exchange: float       # the messages' cost per step, hidden or not
    exposed: float        # the part of it on the critical path
    overhead: float       # fork-join rounds and timer reads
    rate_per_core: float  # updates/s used for the slowest rank
    in_cache: bool
    block: tuple
    reduction: float = None   # one exact reduction across the ranks (a diagnostic's), None: not measured


def rows_of_threads(ny, threads):
    """Row ranges of the threads (BlockPartition: sizes differ by at most one)."""
    base, extra = divmod(ny, threads)
    ranges, start = [], 0
    for t in range(threads):
        size = base + (1 if t < extra else 0)
        ranges.append((start, start + size))
        start += size
    return ranges


def field_bytes(bx, by, depth):
    """A field's bytes: its rows padded as `Field.paddedStride` pads them (the alignment `miniapp plan` gives)."""
    _, alignment = miniapp_plan(1, 1, 1)
    stride = -(-(bx + 2 * depth) // alignment) * alignment
    return stride * (by + 2 * depth) * 8


def predict(machine, layout, halo_depth=1, streaming=None, prefetch=None):
    """The step time of a heat run with the plain scheme or a halo
    `halo_depth` deep (temporal blocking is measured by the bench, not
    modelled). `streaming`, `prefetch`: as run (None: what `auto` picks)."""
    k, threads = halo_depth, layout.threads
    rank_of = {c: r for r, c in enumerate(layout.coords)}
    # What the ranks of one machine share: its cache, its memory, its cores.
    machine_fields, machine_cores, machine_hosts = {}, {}, {}
    for coords, host, where in zip(layout.coords, layout.hosts, layout.machines):
        bx, by = layout.block(coords)
        machine_fields[where] = machine_fields.get(where, 0) + 2 * field_bytes(bx, by, k)
        machine_cores[where] = machine_cores.get(where, 0) + threads
        machine_hosts.setdefault(where, set()).add(host)

    reduction = machine.reduction_seconds(len(layout.coords), len(set(layout.hosts)))
    worst = None
    for rank, (coords, host, where) in enumerate(zip(layout.coords, layout.hosts, layout.machines)):
        bx, by = layout.block(coords)
        in_cache = machine_fields[where] <= machine.cache_bytes / 2
        busy, sliced = machine_cores[where], len(machine_hosts[where]) > 1
        if in_cache:
            rate = machine.rate_per_core(busy, True, False, False, sliced)
        else:
            pf = True if prefetch is None else prefetch
            if streaming is None:   # what `auto` picks: the faster kind
                rate = max(machine.rate_per_core(busy, False, s, pf, sliced) for s in (True, False)
                           if (s, pf) in machine.from_memory)
            else:
                rate = machine.rate_per_core(busy, False, streaming, pf, sliced)

        # Sides (west, east, south, north) with a neighbour; corners when deep.
        sides = [layout.neighbour(coords, d) is not None for d in ((-1, 0), (1, 0), (0, -1), (0, 1))]
        west, east, south, north = sides
        messages = [(8 * k * by, layout.neighbour(coords, d)) for d in ((-1, 0), (1, 0))] \
            + [(8 * k * bx, layout.neighbour(coords, d)) for d in ((0, -1), (0, 1))]
        if k > 1:
            messages += [(8 * k * k, layout.neighbour(coords, d)) for d in ((-1, -1), (1, -1), (-1, 1), (1, 1))]
        shared = network = cpu = 0.0   # cpu: what the network messages cost the core, not hidden
        for nbytes, other in messages:
            if other is None:
                continue
            same = layout.hosts[rank_of[other]] == host
            cost = machine.message_seconds(nbytes, same)
            shared, network = (shared + cost, network) if same else (shared, network + cost)
            if not same:
                cpu += machine.network_overhead + machine.network_unhidden * nbytes / machine.network_bandwidth

        parts = rows_of_threads(by, threads)
        round_cost = machine.fork_join_seconds(threads)
        timers = CLOCK_READS_PER_STEP * machine.clock_read
        if k == 1:
            inner_rows = (int(south), by - int(north))
            inner_columns = bx - int(west) - int(east)
            interior = strips = 0
            for lo, hi in parts:
                inner = max(0, min(hi, inner_rows[1]) - max(lo, inner_rows[0])) * inner_columns
                interior, strips = max(interior, inner), max(strips, (hi - lo) * bx - inner)
            t_interior, t_strips = interior / rate, strips / rate
            exposed = shared + max(cpu, network - t_interior)
            compute = t_interior + t_strips
            rounds = 2 if any(sides) else 1
            overhead = rounds * round_cost + timers
            step, exchange = compute + exposed + overhead, shared + network
        else:
            # One exchange, then k sweeps reaching k-1, ..., 0 points into the halo.
            compute = 0.0
            for extra in range(k - 1, -1, -1):
                columns = bx + extra * (int(west) + int(east))
                busiest = 0
                for t, (lo, hi) in enumerate(parts):
                    rows = hi - lo + (extra * int(south) if t == 0 else 0) \
                        + (extra * int(north) if t == threads - 1 else 0)
                    busiest = max(busiest, rows * columns)
                compute += busiest / rate
            compute /= k
            exchange = exposed = (shared + network) / k
            overhead = round_cost + timers
            step = compute + exposed + overhead
        candidate = Prediction(step=step, compute=compute, exchange=exchange, exposed=exposed, overhead=overhead,
                               rate_per_core=rate, in_cache=in_cache, block=(bx, by), reduction=reduction)
        if worst is None or candidate.step > worst.step:
            worst = candidate
    return worst


def predict_run(machine, run):
    """The prediction for a heat result file, with the scheme it ran."""
    if run.problem != "heat":
        raise ReportError(f"{run.path}: the performance model covers the heat problem, not '{run.problem}'")
    a = run.attributes
    if int(a.get("temporal_blocking", 0)):
        chosen = " (the automatic scheme chose it)" if int(a.get("scheme_automatic", 0)) else ""
        raise ReportError(f"{run.path}: temporal blocking{chosen} is measured by `miniapp bench`, not modelled; "
                          "to set runs against the model, give their input \"scheme\": {\"halo_depth\": 1}")
    # A --json summary has no decomposition: the layout miniapp would choose, the ranks spread evenly over the hosts.
    layout = (Layout.of_run(run) if "coords" in run.decomposition
              else Layout.planned(run.nx, run.ny, run.ranks, run.threads, -(-run.ranks // run.hosts)))
    return predict(machine, layout, halo_depth=int(a.get("halo_depth", 1)),
                   streaming=bool(int(a.get("streaming_stores", 0))), prefetch=bool(int(a.get("software_prefetch", 1))))


def study(machine, nx, ny, ranks, threads, ranks_per_node=None, periods=(False, False), halo_depth=1, kind="strong",
          one_machine=False):
    """Predicted rows of a planned study: every (ranks, threads), ranks
    filling nodes of `ranks_per_node` (default: as many as the bench node has
    cores for). Weak scaling grows nx x ny (the grid of one core) like
    `miniapp-report study` does. `one_machine`: the nodes are hosts of one
    machine, sharing its cores (the test bed of Tests/TestBed/cluster-start)."""
    table = []
    for r in ranks:
        for t in threads:
            per_node = ranks_per_node or max(1, machine.cores // t)
            gx, gy = nx, ny
            if kind == "weak":
                a = int(math.isqrt(r * t))
                while (r * t) % a:
                    a -= 1
                gx, gy = nx * (r * t // a), ny * a
            layout = Layout.planned(gx, gy, r, t, per_node, periods, one_machine)
            p = predict(machine, layout, halo_depth)
            table.append({"ranks": r, "threads": t, "cores": r * t, "nodes": -(-r // per_node),
                          "dims": f"{layout.dims[0]}x{layout.dims[1]}", "grid": f"{gx}x{gy}",
                          "block": f"{p.block[0]}x{p.block[1]}", "prediction": p, "points": gx * gy})
    table.sort(key=lambda row: (row["cores"], row["ranks"]))
    base = table[0]
    for row in table:
        speedup = base["prediction"].step / row["prediction"].step * row["points"] / base["points"]
        row["efficiency"] = speedup / (row["cores"] / base["cores"])
    return table


def as_text(table, kind):
    header = ["ranks", "threads", "nodes", "dims", "grid", "block", "cache", "MLUP/s/core", "compute [us]",
              "messages [us]", "exposed [us]", "overhead [us]", "reduction [us]", "step [us]", "efficiency"]
    cells = []
    for row in table:
        p = row["prediction"]
        cells.append([str(row["ranks"]), str(row["threads"]), str(row["nodes"]), row["dims"], row["grid"], row["block"],
                      "yes" if p.in_cache else "no", f"{p.rate_per_core / 1e6:.0f}", f"{p.compute * 1e6:.2f}",
                      f"{p.exchange * 1e6:.2f}", f"{p.exposed * 1e6:.2f}", f"{p.overhead * 1e6:.2f}",
                      "-" if p.reduction is None else f"{p.reduction * 1e6:.2f}",
                      f"{p.step * 1e6:.2f}", f"{row['efficiency']:.3f}"])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = [f"{kind} scaling predicted by the performance model (stepping only; efficiency against "
             f"{table[0]['cores']} core{'s' if table[0]['cores'] != 1 else ''}; per step of the slowest rank; "
             "reduction: one exact reduction across the ranks, as a diagnostic makes)"]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines) + "\n"
