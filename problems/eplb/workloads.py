"""EPLB workloads: a calibrated synthetic MoE traffic generator, trace loaders and fixed splits.

A *workload* is an int64 array ``load[W, L, E]``: how many (token, top-k choice)
pairs were routed to expert ``e`` of MoE layer ``l`` during window ``w``.  A
solver plans on window ``t`` and is scored on window ``t + 1``, so every
workload needs at least two windows.

Public API
----------
* :class:`TrafficParams`, :func:`generate` — synthetic traffic, deterministic per seed.
* :func:`traffic_stats` — the imbalance statistics the generator is calibrated on.
* :func:`drift_gap` — balance lost by planning on the previous window (reference solver).
* :func:`load_npz` / :func:`save_npz`, :func:`load_sglang_stat`, :func:`load_json`,
  :func:`load_workload` — loaders; anything malformed raises :class:`WorkloadError`.
* :data:`SPLIT_SEEDS`, :func:`split` — the train / validation / test workloads.

``python problems/eplb/workloads.py --stats`` prints the calibration table that
WORKLOADS.md reports.  Only numpy, torch and the standard library are needed
(:func:`drift_gap` additionally imports the reference solver from ``heubase``).
"""
import argparse
import json
import math
import sys
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_TOKENS_PER_WINDOW",
    "SPLIT_SEEDS",
    "TARGETS",
    "TrafficParams",
    "WorkloadError",
    "drift_gap",
    "generate",
    "load_json",
    "load_npz",
    "load_sglang_stat",
    "load_workload",
    "save_npz",
    "split",
    "traffic_stats",
]

#: Tokens decoded in one window: 128 decode steps of a 256-sequence global batch.
#: With top-8 routing that is 262,144 routed choices per layer and window.
DEFAULT_TOKENS_PER_WINDOW = 128 * 256

#: Per-(window, layer) statistics of real DeepSeek-R1 decode traces, averaged
#: over layers and windows (the calibration targets; see WORKLOADS.md).
TARGETS = {"max_over_mean": 11.0, "cv": 2.4, "top8_share": 0.33, "zipf_exponent": 1.1}

#: Ranks (1-based, inclusive) over which :func:`traffic_stats` fits the Zipf exponent.
ZIPF_FIT_RANKS = (2, 64)


class WorkloadError(ValueError):
    """A workload file or array is malformed; the message names the file and the problem."""


# --------------------------------------------------------------------------- generator


@dataclass(frozen=True)
class TrafficParams:
    """Parameters of the synthetic traffic model (defaults are the calibrated ones).

    Each layer's routed traffic is a mixture of two parts:

    * **routing patterns** (share ``pattern_share``): a token population made of
      ``patterns`` clusters; all tokens of a cluster pick the same ``top_k``
      experts, drawn from ``groups_per_token`` of the ``expert_groups``
      contiguous expert groups (DeepSeek-V3's group-limited routing).  Cluster
      weights follow a Zipf law ``w_c ∝ c^-pattern_exponent``.  This is what
      makes the hottest experts of a layer come in near-equal blocks of ``top_k``.
    * **diffuse background** (the rest): Zipf–Mandelbrot popularity
      ``p_k ∝ (k + zipf_k0)^-zipf_s`` over a random permutation of the experts,
      times a static per-layer log-normal jitter ``exp(layer_jitter · N(0,1))``.

    Over time every cluster's log-weight and every background expert's
    log-popularity follows a stationary AR(1) process around its base value
    ``mu``: ``x[t+1] = mu + drift_rho (x[t] - mu) + drift_sigma · N(0,1)``
    (window 0 is drawn from the stationary law).  With probability
    ``burst_prob`` per (window, layer), ``burst_experts`` random experts have
    their popularity multiplied by ``burst_factor`` for that window only.
    Counts are finally drawn multinomially, ``tokens_per_window · top_k``
    choices per (window, layer).
    """

    top_k: int = 8                 #: experts chosen by every token (DeepSeek-V3/R1: 8)
    expert_groups: int = 8         #: contiguous expert groups (DeepSeek-V3: 8 groups of 32)
    groups_per_token: int = 4      #: groups a token may route into (DeepSeek-V3: topk_group = 4)
    patterns: int = 6              #: routing patterns (token clusters) per layer
    pattern_exponent: float = 0.65 #: Zipf exponent of the pattern weights
    pattern_share: float = 0.9     #: fraction of routed choices produced by the patterns
    zipf_s: float = 1.1            #: background Zipf–Mandelbrot exponent s
    zipf_k0: float = 4.0           #: background Zipf–Mandelbrot rank offset k0
    layer_jitter: float = 0.5      #: sigma of the static per-layer log-normal jitter
    drift_rho: float = 0.75        #: AR(1) persistence of log-popularities per window
    drift_sigma: float = 0.375     #: AR(1) innovation sigma of log-popularities per window
    burst_prob: float = 0.05       #: probability of a burst per (window, layer)
    burst_experts: int = 3         #: experts hit by one burst
    burst_factor: float = 4.0      #: popularity multiplier of a burst

    def __post_init__(self) -> None:
        checks = [
            (self.top_k >= 1, "top_k must be >= 1"),
            (self.expert_groups >= 1, "expert_groups must be >= 1"),
            (1 <= self.groups_per_token <= self.expert_groups, "groups_per_token must be in [1, expert_groups]"),
            (self.patterns >= 0, "patterns must be >= 0"),
            (self.pattern_exponent >= 0, "pattern_exponent must be >= 0"),
            (0.0 <= self.pattern_share <= 1.0, "pattern_share must be in [0, 1]"),
            (self.patterns > 0 or self.pattern_share == 0.0, "pattern_share must be 0 when patterns is 0"),
            (self.zipf_s >= 0, "zipf_s must be >= 0"),
            (self.zipf_k0 > -1, "zipf_k0 must be > -1"),
            (self.layer_jitter >= 0, "layer_jitter must be >= 0"),
            (0.0 <= self.drift_rho < 1.0, "drift_rho must be in [0, 1)"),
            (self.drift_sigma >= 0, "drift_sigma must be >= 0"),
            (0.0 <= self.burst_prob <= 1.0, "burst_prob must be in [0, 1]"),
            (self.burst_experts >= 0, "burst_experts must be >= 0"),
            (self.burst_factor > 0, "burst_factor must be > 0"),
        ]
        bad = [message for ok, message in checks if not ok]
        if bad:
            raise ValueError("invalid TrafficParams: " + "; ".join(bad))


def _random_permutations(rng: np.random.Generator, rows: tuple[int, ...], n: int) -> np.ndarray:
    """Independent uniform permutations of ``range(n)`` for every row (argsort of uniforms)."""
    return np.argsort(rng.random((*rows, n)), axis=-1)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _ar1_paths(rng: np.random.Generator, mu: np.ndarray, windows: int, rho: float, sigma: float) -> np.ndarray:
    """``[W, *mu.shape]`` stationary log-AR(1) paths around ``mu``."""
    paths = np.empty((windows, *mu.shape))
    noise = rng.standard_normal((windows, *mu.shape))
    paths[0] = mu + sigma / math.sqrt(1.0 - rho * rho) * noise[0]
    for t in range(1, windows):
        paths[t] = mu + rho * (paths[t - 1] - mu) + sigma * noise[t]
    return paths


def _pattern_members(rng: np.random.Generator, layers: int, experts: int, p: TrafficParams) -> np.ndarray:
    """``[L, C, top_k]`` expert ids of the routing patterns; no expert is in two patterns of a layer.

    Pattern ``c`` draws ``groups_per_token`` of the ``expert_groups`` groups and
    takes ``top_k`` random unused experts from them; when those groups have too
    few unused experts left it tops up with random unused experts elsewhere.
    """
    groups = p.expert_groups if experts % p.expert_groups == 0 else 1
    per_token = min(p.groups_per_token, groups)
    group_of_expert = np.arange(experts) // (experts // groups)
    members = np.empty((layers, p.patterns, p.top_k), dtype=np.int64)
    used = np.zeros((layers, experts), dtype=bool)
    layer_ids = np.arange(layers)[:, None]
    for c in range(p.patterns):
        allowed_groups = _random_permutations(rng, (layers,), groups)[:, :per_token]  # [L, g]
        in_allowed = (group_of_expert[None, :, None] == allowed_groups[:, None, :]).any(axis=-1)
        key = rng.random((layers, experts)) + np.where(in_allowed, 0.0, 1.0)
        key[used] = np.inf
        pick = np.argsort(key, axis=1)[:, : p.top_k]
        members[:, c] = pick
        used[layer_ids, pick] = True
    return members


def generate(seed: int, windows: int = 9, layers: int = 58, experts: int = 256,
             tokens_per_window: int = DEFAULT_TOKENS_PER_WINDOW,
             params: TrafficParams | None = None) -> np.ndarray:
    """Synthetic expert traffic ``[windows, layers, experts]`` (int64), deterministic per ``seed``.

    Defaults mimic DeepSeek-R1 decode: 58 MoE layers × 256 routed experts,
    nine windows of :data:`DEFAULT_TOKENS_PER_WINDOW` tokens.  Every
    (window, layer) row sums to ``tokens_per_window * params.top_k``.
    """
    p = params if params is not None else TrafficParams()
    if windows < 1 or layers < 1 or experts < 1:
        raise ValueError(f"windows, layers and experts must be >= 1 (got {windows}, {layers}, {experts})")
    if experts < p.top_k * max(p.patterns, 1):
        raise ValueError(f"{experts} experts cannot hold {p.patterns} disjoint top-{p.top_k} routing patterns")
    if tokens_per_window < 0:
        raise ValueError(f"tokens_per_window must be >= 0 (got {tokens_per_window})")
    rng = np.random.Generator(np.random.PCG64(seed))

    # Diffuse background: Zipf–Mandelbrot over a random rank order, static jitter, AR(1) drift.
    rank = _random_permutations(rng, (layers,), experts)  # rank[l, e] in 0..E-1
    mu_bg = -p.zipf_s * np.log(rank + 1.0 + p.zipf_k0) + p.layer_jitter * rng.standard_normal((layers, experts))
    background = _softmax(_ar1_paths(rng, mu_bg, windows, p.drift_rho, p.drift_sigma))  # [W, L, E]

    popularity = (1.0 - p.pattern_share) * background
    if p.patterns > 0 and p.pattern_share > 0:
        members = _pattern_members(rng, layers, experts, p)  # [L, C, k]
        mu_pat = np.broadcast_to(-p.pattern_exponent * np.log(np.arange(1.0, p.patterns + 1)), (layers, p.patterns))
        weight = _softmax(_ar1_paths(rng, mu_pat, windows, p.drift_rho, p.drift_sigma))  # [W, L, C]
        share = np.repeat(weight[..., None] * (p.pattern_share / p.top_k), p.top_k, axis=-1)  # [W, L, C, k]
        flat = popularity.reshape(windows * layers, experts)
        rows = np.repeat(np.arange(windows * layers), p.patterns * p.top_k)
        cols = np.broadcast_to(members, (windows, *members.shape)).reshape(-1)
        np.add.at(flat, (rows, cols), share.reshape(-1))
        popularity = flat.reshape(windows, layers, experts)

    # Bursts: a few experts get a temporary popularity boost.
    hit = rng.random((windows, layers)) < p.burst_prob
    burst_ids = _random_permutations(rng, (windows, layers), experts)[..., : min(p.burst_experts, experts)]
    if hit.any() and burst_ids.shape[-1]:
        boost = np.ones_like(popularity)
        np.put_along_axis(boost, burst_ids, np.where(hit[..., None], p.burst_factor, 1.0), axis=-1)
        popularity = popularity * boost
    popularity /= popularity.sum(axis=-1, keepdims=True)

    return rng.multinomial(tokens_per_window * p.top_k, popularity).astype(np.int64)


# --------------------------------------------------------------------------- statistics


def _rows(load: np.ndarray) -> np.ndarray:
    arr = np.asarray(load, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"expected a [..., E] load array, got shape {arr.shape}")
    rows = arr.reshape(-1, arr.shape[-1])
    return rows[rows.sum(axis=1) > 0]


def traffic_stats(load: np.ndarray, fit_ranks: tuple[int, int] = ZIPF_FIT_RANKS) -> dict[str, float]:
    """Imbalance statistics of ``load[..., E]``, computed per row and averaged over rows.

    A row is one (window, layer); all-zero rows are ignored.

    * ``max_over_mean`` — hottest expert's load / mean expert load;
    * ``cv`` — coefficient of variation over experts (population std / mean);
    * ``top8_share`` — share of the row's load carried by its 8 hottest experts;
    * ``zipf_exponent`` — minus the least-squares slope of log(load) against
      log(rank) over the 1-based ranks ``fit_ranks`` (inclusive; default 2..64),
      load clipped below at 0.5 so empty experts stay finite.
    """
    rows = _rows(load)
    if rows.shape[0] == 0:
        raise ValueError("load has no non-empty rows")
    experts = rows.shape[1]
    mean = rows.mean(axis=1)
    ordered = -np.sort(-rows, axis=1)
    lo, hi = max(1, fit_ranks[0]), min(experts, fit_ranks[1])
    if hi - lo < 1:
        raise ValueError(f"cannot fit a Zipf exponent over ranks {fit_ranks} with {experts} experts")
    log_rank = np.log(np.arange(lo, hi + 1, dtype=np.float64))
    log_rank -= log_rank.mean()
    log_load = np.log(np.maximum(ordered[:, lo - 1:hi], 0.5))
    slope = ((log_load - log_load.mean(axis=1, keepdims=True)) * log_rank).sum(axis=1) / (log_rank ** 2).sum()
    return {
        "max_over_mean": float((ordered[:, 0] / mean).mean()),
        "cv": float((rows.std(axis=1) / mean).mean()),
        "top8_share": float((ordered[:, :8].sum(axis=1) / rows.sum(axis=1)).mean()),
        "zipf_exponent": float(-slope.mean()),
    }


def drift_gap(load: np.ndarray, num_replicas: int = 288, num_groups: int = 8, num_nodes: int = 4,
              num_gpus: int = 32) -> dict[str, float]:
    """Balance lost by planning one window late, with the reference (DeepSeek) solver.

    For every consecutive pair ``(t, t+1)`` of ``load[W, L, E]`` both plans are
    scored on window ``t+1``: ``oracle`` plans on ``t+1`` itself, ``stale`` plans
    on ``t``.  Balancedness = Σ_layers mean GPU load / Σ_layers max GPU load.
    Returns the means over pairs: ``{"oracle", "stale", "gap"}`` (gap = oracle − stale).
    """
    import torch

    try:
        from heubase.eplb.plan import gpu_loads
        from heubase.eplb.reference import rebalance_experts
    except ImportError:  # running as a script from a checkout that is not installed
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from heubase.eplb.plan import gpu_loads
        from heubase.eplb.reference import rebalance_experts

    arr = np.asarray(load)
    if arr.ndim != 3 or arr.shape[0] < 2:
        raise ValueError(f"drift_gap needs load[W >= 2, L, E], got shape {arr.shape}")

    def balancedness(weight: torch.Tensor, plan: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> float:
        phy2log, _, logcnt = plan
        gpu = gpu_loads(weight, phy2log, num_gpus, logcnt)
        return float(gpu.mean(dim=1).sum() / gpu.max(dim=1).values.sum())

    weights = [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64)) for w in arr]
    plans = [rebalance_experts(w, num_replicas, num_groups, num_nodes, num_gpus) for w in weights]
    oracle = [balancedness(weights[t], plans[t]) for t in range(1, len(weights))]
    stale = [balancedness(weights[t], plans[t - 1]) for t in range(1, len(weights))]
    o, s = float(np.mean(oracle)), float(np.mean(stale))
    return {"oracle": o, "stale": s, "gap": o - s}


# --------------------------------------------------------------------------- loaders


def _one_line(exc: BaseException) -> str:
    """First line of an exception's text (type name if empty), shortened for error messages."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _check_counts(arr: np.ndarray, source: str, *, min_windows: int = 2) -> np.ndarray:
    """Validate a ``[W, L, E]`` array of non-negative integer counts and return it as int64."""
    if arr.dtype == object:
        raise WorkloadError(f"{source}: holds Python objects, expected an integer array")
    if arr.dtype.kind not in "iu":  # rejects bool, float (NaN included), complex, strings
        raise WorkloadError(f"{source}: dtype {arr.dtype} is not an integer type (expected integer token counts)")
    if arr.ndim != 3:
        raise WorkloadError(f"{source}: shape {arr.shape} has {arr.ndim} dimensions, expected 3 ([W, L, E])")
    if arr.shape[0] < min_windows:
        raise WorkloadError(f"{source}: {arr.shape[0]} window(s), need at least {min_windows} "
                            "(a plan made on one window is scored on the next)")
    if arr.shape[1] < 1 or arr.shape[2] < 1:
        raise WorkloadError(f"{source}: shape {arr.shape} has an empty layer or expert axis")
    if arr.size and arr.min() < 0:
        raise WorkloadError(f"{source}: holds negative counts (min {arr.min()})")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise WorkloadError(f"{source}: counts exceed the int64 range")
    return arr.astype(np.int64)


def load_npz(path: str | Path) -> np.ndarray:
    """Load ``load[W, L, E]`` (int64) from an ``.npz`` file holding exactly one array named ``load``.

    Requires W >= 2, an integer dtype and non-negative counts.  Object arrays
    are never unpickled.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read file ({_one_line(exc)})") from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # zip local header / empty zip
        raise WorkloadError(f"{path}: not an .npz archive (no zip header)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = sorted(archive.files)
            if names != ["load"]:
                if "load" not in names:
                    raise WorkloadError(f"{path}: no array named 'load' (found {names or 'nothing'})")
                extra = [n for n in names if n != "load"]
                raise WorkloadError(f"{path}: unexpected arrays {extra}; the file must hold only 'load'")
            arr = archive["load"]
    except WorkloadError:
        raise
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except ValueError as exc:  # object arrays refused without pickle, or bad headers
        if "pickle" in str(exc).lower():
            raise WorkloadError(f"{path}: 'load' is a pickled object array, which is not accepted") from None
        raise WorkloadError(f"{path}: not a readable .npz archive ({_one_line(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise WorkloadError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {_one_line(exc)})") from None
    if not isinstance(arr, np.ndarray):
        raise WorkloadError(f"{path}: 'load' is not an array")
    return _check_counts(arr, str(path))


def save_npz(path: str | Path, load: np.ndarray) -> None:
    """Write ``load[W, L, E]`` to ``path`` in the format :func:`load_npz` reads (compressed)."""
    arr = _check_counts(np.asarray(load), f"save_npz({path})")
    with open(path, "wb") as handle:  # an open file keeps numpy from appending '.npz'
        np.savez_compressed(handle, load=arr)


def _windows_from_steps(steps: np.ndarray, steps_per_window: int | None, default_windows: int,
                        source: str) -> np.ndarray:
    """Sum the rows of ``steps[S, L, E]`` into windows of consecutive rows.

    With ``steps_per_window`` every window has exactly that many rows and a
    ragged tail is dropped; without it the rows are split into
    ``min(default_windows, S)`` windows whose sizes differ by at most one row.
    """
    num_steps = steps.shape[0]
    if steps_per_window is None:
        bounds = np.linspace(0, num_steps, min(default_windows, num_steps) + 1).round().astype(np.int64)
        return np.stack([steps[a:b].sum(axis=0, dtype=np.int64) for a, b in zip(bounds[:-1], bounds[1:])])
    if isinstance(steps_per_window, bool) or not isinstance(steps_per_window, (int, np.integer)) \
            or steps_per_window < 1:
        raise WorkloadError(f"{source}: steps_per_window must be a positive integer (got {steps_per_window!r})")
    windows = num_steps // steps_per_window
    if windows < 1:
        raise WorkloadError(f"{source}: only {num_steps} non-empty step(s), fewer than "
                            f"steps_per_window={steps_per_window}")
    used = steps[: windows * steps_per_window]
    return used.reshape(windows, steps_per_window, *steps.shape[1:]).sum(axis=1, dtype=np.int64)


#: Default number of windows :func:`load_sglang_stat` makes when ``steps_per_window`` is not given.
SGLANG_DEFAULT_WINDOWS = 8


def load_sglang_stat(path: str | Path, steps_per_window: int | None = None) -> np.ndarray:
    """Load an SGLang expert-distribution ``stat`` dump (``.pt``) as ``load[W, L, E]`` int64.

    The recorder saves ``{"rank", "logical_count": [steps, layers, experts], ...}``
    with one row per forward pass in a ring buffer.  All-zero rows (unfilled
    buffer slots) are dropped, then layers that are zero at every step (dense,
    non-MoE layers such as DeepSeek-V3's first three) are dropped.  The remaining
    steps are summed into windows of ``steps_per_window`` consecutive rows (a
    ragged tail is dropped); by default they are split into
    :data:`SGLANG_DEFAULT_WINDOWS` windows of near-equal size (sizes differ by at
    most one row; fewer windows if there are fewer steps) so that no row is lost.
    The ring buffer's write position is not saved: once the buffer has wrapped,
    buffer order is time order rotated by an unknown offset, so one window may
    join the newest and oldest steps and window order — hence the drift between
    windows — is only approximate.  The result may have a single window; callers that score
    on a next window must check ``W >= 2``.
    """
    import torch

    path = Path(path)
    try:
        with warnings.catch_warnings():  # a corrupt file gets our one-line error, not torch's warnings too
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except Exception as exc:  # corrupt archive, or content refused by the weights-only loader
        with open(path, "rb") as handle:
            is_zip = handle.read(4) == b"PK\x03\x04"
        if is_zip and type(exc).__name__ == "UnpicklingError":
            raise WorkloadError(f"{path}: holds objects the weights-only loader refuses "
                                "(only tensors, numbers, strings and plain containers are accepted)") from None
        raise WorkloadError(f"{path}: not a readable torch.save file ({type(exc).__name__}; "
                            "corrupt, truncated or not written by torch.save)") from None
    if not isinstance(data, dict):
        raise WorkloadError(f"{path}: expected a dict with key 'logical_count', got {type(data).__name__}")
    if "logical_count" not in data:
        raise WorkloadError(f"{path}: no 'logical_count' entry (keys: {sorted(map(str, data))})")
    tensor = data["logical_count"]
    if not isinstance(tensor, torch.Tensor):
        raise WorkloadError(f"{path}: 'logical_count' is {type(tensor).__name__}, expected a tensor")
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise WorkloadError(f"{path}: 'logical_count' has dtype {tensor.dtype}, expected integer counts")
    steps = tensor.detach().to(torch.int64).numpy()
    if steps.ndim != 3:
        raise WorkloadError(f"{path}: 'logical_count' has shape {tuple(steps.shape)}, "
                            "expected [steps, layers, experts]")
    if steps.size and steps.min() < 0:
        raise WorkloadError(f"{path}: 'logical_count' holds negative counts")
    steps = steps[steps.reshape(steps.shape[0], -1).any(axis=1)]
    if steps.shape[0] == 0:
        raise WorkloadError(f"{path}: every recorded step is empty (all-zero 'logical_count')")
    steps = steps[:, steps.any(axis=(0, 2))]
    windows = _windows_from_steps(steps, steps_per_window, SGLANG_DEFAULT_WINDOWS, str(path))
    return _check_counts(windows, str(path), min_windows=1)


def load_json(path: str | Path) -> np.ndarray:
    """Load ``{"logical_count": [...]}`` from JSON as ``load[W, L, E]`` int64.

    ``logical_count`` is a nested list of shape ``[L, E]`` (returned as a single
    window ``[1, L, E]``, which cannot be scored on a next window — callers must
    check) or ``[S, L, E]`` (returned as is, one window per entry).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkloadError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"{path}: cannot read text ({_one_line(exc)})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkloadError(f"{path}: invalid JSON ({_one_line(exc)})") from None
    if not isinstance(data, dict) or "logical_count" not in data:
        raise WorkloadError(f"{path}: expected a JSON object with key 'logical_count'")
    nested = data["logical_count"]
    try:
        arr = np.array(nested)
    except ValueError:
        raise WorkloadError(f"{path}: 'logical_count' is ragged (rows of different lengths)") from None
    if arr.dtype == object:
        raise WorkloadError(f"{path}: 'logical_count' is ragged or holds non-integer values")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise WorkloadError(f"{path}: 'logical_count' holds non-integer values")
        arr = arr.astype(np.int64)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3:
        raise WorkloadError(f"{path}: 'logical_count' has shape {arr.shape}, expected [L, E] or [S, L, E]")
    return _check_counts(arr, str(path), min_windows=1)


def load_workload(path: str | Path, **kw) -> np.ndarray:
    """Load a workload by suffix: ``.npz`` → :func:`load_npz`, ``.pt`` → :func:`load_sglang_stat`,
    ``.json`` → :func:`load_json`; keyword arguments go to the chosen loader."""
    path = Path(path)
    loaders = {".npz": load_npz, ".pt": load_sglang_stat, ".json": load_json}
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise WorkloadError(f"{path}: unknown workload suffix {path.suffix!r} (expected .npz, .pt or .json)")
    return loader(path, **kw)


# --------------------------------------------------------------------------- splits

#: Seeds of the fixed synthetic splits (distinct, so no split leaks into another).
SPLIT_SEEDS = {"train": 20250101, "validation": 20250202, "test": 20250303}


def split(name: str, **kw) -> np.ndarray:
    """The synthetic workload of split ``name`` ("train", "validation" or "test").

    Keyword arguments are passed to :func:`generate` (everything but ``seed``).
    """
    if name not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {name!r} (expected one of {sorted(SPLIT_SEEDS)})")
    return generate(SPLIT_SEEDS[name], **kw)


# --------------------------------------------------------------------------- CLI


def _stats_report(seeds: list[int]) -> str:
    started = time.perf_counter()
    loads = [generate(seed) for seed in seeds]
    per_workload = (time.perf_counter() - started) / len(seeds)
    stats = [traffic_stats(load) for load in loads]
    gaps = [drift_gap(load) for load in loads]

    def mean_sd(values: list[float]) -> str:
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}"

    lines = [f"seeds: {seeds[0]}..{seeds[-1]} ({len(seeds)} workloads of shape {loads[0].shape}), "
             f"generation {per_workload * 1000:.0f} ms per workload",
             "", "| statistic | target | measured (mean ± sd over seeds) |", "|---|---|---|"]
    for key, target in TARGETS.items():
        lines.append(f"| {key} | {target:g} | {mean_sd([s[key] for s in stats])} |")
    for key in ("oracle", "stale", "gap"):
        lines.append(f"| balancedness {key} | {'0.1–0.2' if key == 'gap' else '—'} | "
                     f"{mean_sd([g[key] for g in gaps])} |")
    lines += ["", "defaults: " + ", ".join(f"{k}={v}" for k, v in asdict(TrafficParams()).items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stats", action="store_true", help="print the calibration table")
    parser.add_argument("--seeds", type=int, default=10, help="workloads to average over (default 10)")
    parser.add_argument("--generate", metavar="OUT.npz", help="write generate(--seed) to an .npz file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.generate:
        save_npz(args.generate, generate(args.seed))
        print(f"wrote {args.generate}")
    if args.stats or not args.generate:
        print(_stats_report(list(range(args.seeds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
