"""Independent float64 numpy reference of the selection methods of docs/algorithm.md.

Written from docs/algorithm.md and docs/method.md only, never from core/select/*.c.
Tests only: numpy and the standard library, run with /usr/bin/python3.

Entry point::

    select(method, X, E=None, Q=None, *, k, grid=None, tau=0.2, k_min=4, gamma=1.0, rho=0.5,
           seed=0, graph='bipartite', perturb=None) -> (indices, tokens)

`indices` is an int64 array, ascending, of length min(k, N); `tokens` the float64 output rows
(copies of the kept rows, or the averages of `pool` / `tome`).

Conditioning. The C code computes cosines in float32, which differ from these float64 values by
about 1e-6. `perturb` (None, an int seed, or a callable ``noise(shape) -> array``) adds independent
uniform noise in [-2e-6, 2e-6] to every similarity entry S_ij (S_ij and S_ji get different noise),
to every query cosine C_im, to every raw relevance value, and in `tome` to each round's cosine
matrix, but never to an entry involving a zero row (exactly 0 in float32 too). Every similarity is
computed once, perturbed once, and then only looked up, so a perturbed run is a consistent run of
the algorithm on slightly different similarities. `conditioning()` runs the method unperturbed and
with several noise seeds and says whether every discrete decision is robust.

Parameters are rounded through float32 (tau, gamma, rho) because sp_params stores them as float.
"""

import math

import numpy as np

NOISE_AMPLITUDE = 2e-6
CHOOSE_TOL = 1e-4
DPP_STOP = 1e-4
DEGENERATE_SPAN = 1e-6
MINMAX_EPS = 1e-6
NORM_FLOOR = 1e-12
TOKENS_RTOL = 1e-5  # merged tokens (pool, tome) compare to this tolerance
TOKENS_ATOL = 1e-6

METHODS = ('script', 'script-authors', 'gsp', 'qcsp', 'random', 'pool', 'divprune', 'tome')
MERGING = ('pool', 'tome')
MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------------
# Noise (conditioning)

class UniformNoise:
    """Independent uniform noise in [-amplitude, amplitude], reproducible from a seed."""

    def __init__(self, seed, amplitude=NOISE_AMPLITUDE):
        self.rng = np.random.default_rng(seed)
        self.amplitude = amplitude

    def __call__(self, shape):
        return self.rng.uniform(-self.amplitude, self.amplitude, size=shape)


def _noise_fn(perturb):
    if perturb is None:
        return None
    if callable(perturb):
        return perturb
    return UniformNoise(perturb)


def _add_noise(M, noise, mask, scale=1.0):
    """M + noise where mask is true (mask broadcastable to M); M itself when noise is None."""
    if noise is None:
        return M
    n = np.asarray(noise(M.shape), dtype=np.float64) * scale
    return M + np.where(mask, n, 0.0)


# --------------------------------------------------------------------------------------------
# Primitives

def f32(x):
    """A parameter as the C code holds it (float), widened back to float64."""
    return float(np.float32(x))


def normalize(A):
    """Rows divided by max(||row||, 1e-12); returns (normalised rows, nonzero-row mask)."""
    A = np.asarray(A, dtype=np.float64)
    norms = np.sqrt(np.einsum('ij,ij->i', A, A))
    return A / np.maximum(norms, NORM_FLOOR)[:, None], norms > 0


def cosine(A, B, noise=None):
    """Cosines of the rows of A with the rows of B (zero rows give 0), optionally perturbed."""
    Ah, nza = normalize(A)
    Bh, nzb = normalize(B)
    C = Ah @ Bh.T
    return _add_noise(C, noise, nza[:, None] & nzb[None, :])


def choose(v):
    """Tolerant argmax of algorithm.md: position of the smallest index i with
    v_i >= m - 1e-4 * max(1, |m|), m = max(v). -inf loses to any finite value."""
    v = np.asarray(v, dtype=np.float64)
    if v.size == 0:
        raise ValueError('choose over an empty set')
    m = v.max()
    if m == -math.inf:
        return 0
    t = m - CHOOSE_TOL * max(1.0, abs(m))
    return int(np.argmax(v >= t))


def ranking(v, count=None):
    """Descending ranking by repeated `choose`, removing the chosen element each time: the first
    `count` positions (all when None)."""
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    count = n if count is None else min(count, n)
    rest = np.arange(n)
    out = []
    for _ in range(count):
        p = choose(v[rest])
        out.append(int(rest[p]))
        rest = np.delete(rest, p)
    return out


# --------------------------------------------------------------------------------------------
# GSP

def gsp_score(Sp, tau, k_min, gamma):
    """Scores of the rows of Sp (token a against partners P: the cosines S_ab, b in P)."""
    Sp = np.asarray(Sp, dtype=np.float64)
    edge = Sp >= tau  # plain >=, no tolerance
    deg = edge.sum(axis=1)
    total = np.where(edge, Sp, 0.0).sum(axis=1)
    mu = np.where(deg > 0, total / np.maximum(deg, 1), 0.0)
    score = deg * np.exp(gamma * (mu - tau))
    low = deg < k_min
    mean_all = Sp.mean(axis=1) if Sp.shape[1] > 0 else np.zeros(Sp.shape[0])
    return np.where(low, 0.5 * score + 0.5 * mean_all, score)


def gsp_prune(S, target, graph, tau, k_min, gamma):
    """Surviving original indices (ascending) after pruning the N tokens of S to `target`."""
    n = S.shape[0]
    if target >= n:
        return list(range(n))
    if graph == 'full':
        score = gsp_score(S, tau, k_min, gamma)  # P = all N tokens, self edge included
        removed = set(ranking(score, n - target))
        return [i for i in range(n) if i not in removed]
    if graph != 'bipartite':
        raise ValueError('unknown graph form %r' % (graph,))
    alive = list(range(n))
    while len(alive) > target:
        A = alive[0::2]
        B = alive[1::2]
        score = gsp_score(S[np.ix_(A, B)], tau, k_min, gamma)
        r = min(len(alive) - target, max(1, len(A) // 2))
        removed = {A[p] for p in ranking(score, r)}
        alive = [i for i in alive if i not in removed]
    return alive


# --------------------------------------------------------------------------------------------
# Relevance and QCSP

def relevance(E, Q, noise=None):
    """Our relevance r (length N): query-row selection, then min-max with the degenerate rule."""
    n = E.shape[0]
    if Q is None or Q.shape[0] == 0:
        return np.ones(n)
    m = Q.shape[0]
    _, nze = normalize(E)
    _, nzq = normalize(Q)
    C = cosine(E, Q, noise)  # N x M
    s = C.mean(axis=0)
    keep = ranking(s, max(1, m // 2))
    raw = C[:, keep].mean(axis=1)
    raw = _add_noise(raw, noise, nze & bool(nzq[keep].any()))
    lo, hi = raw.min(), raw.max()
    if hi - lo <= DEGENERATE_SPAN:
        return np.ones(n)
    return (raw - lo) / (hi - lo + MINMAX_EPS)


def qcsp(S, r, k):
    """Greedy DPP MAP over the candidates of S (n x n) with relevances r; positions, ascending."""
    n = S.shape[0]
    k = min(k, n)
    L = r[:, None] * S * r[None, :]
    d = np.diag(L).copy()
    c = np.zeros((k, n))
    picked = []
    unpicked = np.ones(n, dtype=bool)
    for step in range(k):
        cand = np.flatnonzero(unpicked)
        j = int(cand[choose(d[cand])])
        if d[j] <= DPP_STOP:
            break  # kernel exhausted
        e = (L[j] - c[:step, j] @ c[:step]) / math.sqrt(d[j])
        c[step] = e
        d -= e * e
        d[j] = -math.inf
        picked.append(j)
        unpicked[j] = False
    if len(picked) < k:
        cand = np.flatnonzero(unpicked)
        picked += [int(cand[p]) for p in ranking(r[cand], k - len(picked))]
    return sorted(picked)


# --------------------------------------------------------------------------------------------
# script-authors

def authors_relevance(E, Q, noise=None):
    """The published relevance: the max(1, M // 2) query rows with the largest mean raw dot
    product, then the negated mean raw dot product over them, plain min-max."""
    n = E.shape[0]
    if Q is None or Q.shape[0] == 0:
        return np.ones(n)
    E64 = np.asarray(E, dtype=np.float64)
    Q64 = np.asarray(Q, dtype=np.float64)
    D = E64 @ Q64.T
    keep = ranking(D.mean(axis=0), max(1, Q.shape[0] // 2))
    raw = -D[:, keep].sum(axis=1) / len(keep)
    if noise is not None:
        # Raw dot products are not bounded by 1: scale the noise with their magnitude.
        _, nze = normalize(E64)
        _, nzq = normalize(Q64)
        scale = max(1.0, float(np.abs(raw).max()))
        raw = _add_noise(raw, noise, nze & bool(nzq.any()), scale)
    lo, hi = raw.min(), raw.max()
    return (raw - lo) / (hi - lo + MINMAX_EPS)


def script_authors(S, E, Q, k, tau, k_min, gamma, noise=None):
    n = S.shape[0]
    G = ranking(gsp_score(S, tau, k_min, gamma), k)  # the k MOST redundant tokens
    r = authors_relevance(E, Q, noise)
    L = r[:, None] * S * r[None, :]
    d = np.diag(L).copy()
    P = []
    inP = np.zeros(n, dtype=bool)
    for _ in range(k):
        cand = np.flatnonzero(~inP)
        j = int(cand[choose(d[cand])])
        if d[j] > 0:
            p = L[j] / (math.sqrt(d[j]) + MINMAX_EPS)
            d -= p * p
        d[j] = -math.inf
        P.append(j)
        inP[j] = True
    # I = G intersect P, filled from P \ G by relevance: always P itself.
    Gs = set(G)
    I = [j for j in P if j in Gs]
    rest = [j for j in P if j not in Gs]
    if len(I) < k and rest:
        rr = np.array([r[j] for j in rest])
        I += [rest[p] for p in ranking(rr, k - len(I))]
    assert sorted(I) == sorted(P)
    return sorted(I)


# --------------------------------------------------------------------------------------------
# Baselines

class SplitMix64:
    def __init__(self, seed):
        self.state = int(seed) & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        t = ((1 << 64) - n) % n
        while True:
            x = self.next()
            if x >= t:
                return x % n


def random_select(n, k, seed):
    g = SplitMix64(seed)
    a = list(range(n))
    for i in range(k):
        j = i + g.below(n - i)
        a[i], a[j] = a[j], a[i]
    return sorted(a[:k])


def pool_cells(h, w, k):
    """The k cells of the h x w grid: list of (r0, r1, c0, c1), band by band, left to right."""
    hb = int(math.floor(math.sqrt(k * h / w) + 0.5))
    hb = min(max(hb, 1), min(h, k))
    hb = max(hb, -(-k // w))
    cells = []
    for i in range(hb):
        r0, r1 = (i * h) // hb, ((i + 1) * h) // hb
        ci = k // hb + (1 if i < k % hb else 0)
        for j in range(ci):
            cells.append((r0, r1, (j * w) // ci, ((j + 1) * w) // ci))
    return cells


def pool(X, k, h, w):
    X64 = np.asarray(X, dtype=np.float64)
    idx, out = [], []
    for r0, r1, c0, c1 in pool_cells(h, w, k):
        rows = [y * w + x for y in range(r0, r1) for x in range(c0, c1)]
        out.append(X64[rows].mean(axis=0))
        idx.append(((r0 + r1 - 1) // 2) * w + (c0 + c1 - 1) // 2)
    return idx, np.array(out)


def divprune(S, k):
    n = S.shape[0]
    if n == 1:
        return [0]
    dist = 1.0 - S
    off = dist.copy()
    np.fill_diagonal(off, math.inf)
    first = choose(off.min(axis=1))
    sel = [first]
    chosen = np.zeros(n, dtype=bool)
    chosen[first] = True
    mind = dist[:, first].copy()  # min over selected s of dist_is
    while len(sel) < k:
        cand = np.flatnonzero(~chosen)
        nxt = int(cand[choose(mind[cand])])
        sel.append(nxt)
        chosen[nxt] = True
        mind = np.minimum(mind, dist[:, nxt])
    return sorted(sel)


def tome(X, k, noise=None):
    V = np.asarray(X, dtype=np.float64).copy()
    size = np.ones(V.shape[0])
    rep = np.arange(V.shape[0])
    while V.shape[0] > k:
        count = V.shape[0]
        A = np.arange(0, count, 2)
        B = np.arange(1, count, 2)
        C = cosine(V[A], V[B], noise)
        best = np.array([choose(row) for row in C], dtype=np.int64)
        score = C[np.arange(len(A)), best]
        r = min(count - k, len(A))
        merging = ranking(score, r)
        newV = V.copy()
        newsize = size.copy()
        for b in set(int(best[p]) for p in merging):
            src = [int(A[p]) for p in merging if best[p] == b]
            bi = int(B[b])
            num = size[bi] * V[bi] + sum(size[a] * V[a] for a in src)
            den = size[bi] + sum(size[a] for a in src)
            newV[bi] = num / den
            newsize[bi] = den
        keep = np.ones(count, dtype=bool)
        keep[[int(A[p]) for p in merging]] = False
        V, size, rep = newV[keep], newsize[keep], rep[keep]
    return list(rep), V


# --------------------------------------------------------------------------------------------
# Dispatch

def default_grid(n):
    s = math.isqrt(n)
    return (s, s) if s * s == n else (1, n)


def select(method, X, E=None, Q=None, *, k, grid=None, tau=0.2, k_min=4, gamma=1.0, rho=0.5,
           seed=0, graph='bipartite', perturb=None):
    """Runs `method` as docs/algorithm.md specifies. Returns (indices ascending, tokens)."""
    if method not in METHODS:
        raise ValueError('unknown method %r' % (method,))
    X64 = np.asarray(X, dtype=np.float64)
    if X64.ndim != 2 or X64.shape[0] < 1 or X64.shape[1] < 1:
        raise ValueError('tokens must be N x D with N, D >= 1')
    n = X64.shape[0]
    if k < 1:
        raise ValueError('budget must be >= 1')
    E64 = X64 if E is None else np.asarray(E, dtype=np.float64)
    if E64.shape[0] != n:
        raise ValueError('embeddings must have N rows')
    Q64 = None if Q is None else np.asarray(Q, dtype=np.float64).reshape(-1, E64.shape[1])
    h, w = default_grid(n) if grid is None else grid
    if h * w != n:
        raise ValueError('grid %dx%d does not hold %d tokens' % (h, w, n))
    tau, gamma, rho = f32(tau), f32(gamma), f32(rho)
    if graph not in ('bipartite', 'full'):
        raise ValueError('unknown graph form %r' % (graph,))

    if k >= n:
        return np.arange(n, dtype=np.int64), X64.copy()

    noise = _noise_fn(perturb)
    if method == 'random':
        idx = random_select(n, k, seed)
    elif method == 'pool':
        idx, tokens = pool(X64, k, h, w)
        return np.array(idx, dtype=np.int64), tokens
    elif method == 'tome':
        idx, tokens = tome(X64, k, noise)
        return np.array(idx, dtype=np.int64), tokens
    else:
        S = cosine(X64, X64, noise)  # computed once, then only looked up
        if method == 'gsp':
            idx = gsp_prune(S, k, graph, tau, k_min, gamma)
        elif method == 'divprune':
            idx = divprune(S, k)
        elif method == 'qcsp':
            r = relevance(E64, Q64, noise)
            idx = qcsp(S, r, k)
        elif method == 'script':
            c = max(k, int(math.ceil(rho * n)))
            cand = gsp_prune(S, c, graph, tau, k_min, gamma) if c < n else list(range(n))
            r = relevance(E64, Q64, noise)  # over all N tokens
            ca = np.array(cand, dtype=np.int64)
            idx = [cand[p] for p in qcsp(S[np.ix_(ca, ca)], r[ca], k)]
        elif method == 'script-authors':
            idx = script_authors(S, E64, Q64, k, tau, k_min, gamma, noise)
        else:  # pragma: no cover
            raise AssertionError(method)
    idx = np.array(sorted(idx), dtype=np.int64)
    return idx, X64[idx]


def conditioning(method, X, E=None, Q=None, *, noise_seeds=(1, 2, 3, 4), **kw):
    """Runs `method` unperturbed and once per noise seed. Returns (indices, tokens,
    well_conditioned, list of the perturbed index arrays). For tome the merged tokens must agree
    as well."""
    idx, tokens = select(method, X, E, Q, **kw)
    if method in ('random', 'pool') or kw['k'] >= np.asarray(X).shape[0]:
        return idx, tokens, True, []  # no similarity involved
    runs = [select(method, X, E, Q, perturb=s, **kw) for s in noise_seeds]
    ok = all(len(o) == len(idx) and np.array_equal(o, idx) for o, _ in runs)
    if ok and method == 'tome':
        # Which b an a merges into can flip without changing the representatives: the merged
        # vectors must agree too (to the tolerance the CLI comparison uses).
        ok = all(np.allclose(t, tokens, rtol=TOKENS_RTOL, atol=TOKENS_ATOL) for _, t in runs)
    return idx, tokens, ok, [o for o, _ in runs]
