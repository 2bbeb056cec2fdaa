#!/usr/bin/python3
"""Compares `scriptprune select` with the numpy reference (select_ref.py) index for index.

    check_select.py --cli PATH [--methods all|m1,m2,...|errors] [--case ID] [--keep DIR] [-v]

For every case the inputs are generated in float32, saved as .npy, run through the CLI (with
--out, so the safetensors output is checked too) and through the reference, which reads the same
float32 values widened to float64. The reference is also run with four independent 2e-6
perturbations of every similarity (select_ref.conditioning): a case is well-conditioned when all
five runs agree. Well-conditioned cases must match exactly; ill-conditioned ones are counted and
skipped. The run fails if any well-conditioned case mismatches, if any output is malformed, if the
CLI fails on valid input, or if more than 25% of the random (Gaussian) cases of a method are
ill-conditioned (the test data would then need rethinking).

Data: Gaussian ('gauss', the random cases, including 60 random draws of N, D, k, M and the
parameters per method), and structured kinds: exact and scaled duplicates, all-identical tokens,
zero rows, tight clusters, a query row equal to a token, small-integer vectors (exact ties),
near-collinear tokens (DPP residuals on both sides of the 1e-4 stop), tolerance chains (values
6e-5 apart: a ranking by repeated choose differs from a sort), all-zero queries or embeddings
(degenerate relevance), and for pool every k on small non-square grids.

`--methods errors` checks the CLI's bad-input paths: exit status 2, one non-empty line on stderr,
no signal.

A failing case prints the command to reproduce it: `--methods M --case ID --keep DIR` regenerates
exactly that case (data, parameters) and keeps its files in DIR.
"""

import argparse
import json
import math
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import select_ref as R  # noqa: E402

ILL_RANDOM_LIMIT = 0.25
TOKENS_RTOL = R.TOKENS_RTOL
TOKENS_ATOL = R.TOKENS_ATOL
CLI_TIMEOUT = 120

NS = [1, 2, 3, 7, 64, 196, 576]
DS = [1, 3, 16, 64, 257]
MS = [0, 1, 2, 5]
STRUCTURED = ['dup', 'identical', 'zero', 'clusters', 'query-token', 'ties', 'collinear']
GRIDS = {
    2: [None, (2, 1)], 3: [None, (3, 1)], 7: [None, (7, 1)], 12: [(3, 4), (4, 3), (2, 6), (12, 1)],
    35: [(5, 7), (7, 5), (1, 35)], 64: [None, (4, 16), (16, 4), (2, 32), (1, 64), (64, 1)],
    196: [None, (7, 28), (28, 7)], 576: [None, (16, 36), (12, 48)],
}

# Parameter sets cycled through the cases of each method ({} = CLI defaults, options omitted).
# Only dyadic rho values: ceil(rho * N) is then the same in float and double arithmetic.
GSP_PARAMS = [{}, {'graph': 'full'}, {'tau': 0.0}, {'tau': 0.5}, {'tau': -0.3, 'graph': 'full'},
              {'k_min': 0}, {'k_min': 10}, {'gamma': 0.0}, {'gamma': 2.5, 'graph': 'full'},
              {'tau': 0.9}, {'k_min': 1, 'tau': 0.35}]
PARAMS = {
    'script': [{}, {'tau': 0.0}, {'tau': 0.5, 'graph': 'full'}, {'rho': 0.25},
               {'rho': 0.75, 'k_min': 1}, {'gamma': 2.5, 'tau': -0.3}, {'graph': 'full'},
               {'rho': 1.0}, {'k_min': 10, 'gamma': 0.0}, {'no_method': True},
               {'rho': 0.125, 'graph': 'full', 'tau': 0.35}],
    'script-authors': [{}, {'tau': 0.5}, {'k_min': 1}, {'gamma': 2.5}, {'tau': 0.0},
                       {'graph': 'full'}],
    'gsp': GSP_PARAMS,
    'qcsp': [{}, {'tau': 0.7}],
    'random': [{}, {'seed': 1}, {'seed': 7}, {'seed': 12345}, {'seed': 2**64 - 1},
               {'seed': 2**63 + 5}, {'seed': 42}],
    'pool': [{}],
    'divprune': [{}],
    'tome': [{}],
}
OPTION = {'tau': '--tau', 'k_min': '--k-min', 'gamma': '--gamma', 'rho': '--rho', 'seed': '--seed',
          'graph': '--graph'}


# --------------------------------------------------------------------------------------------
# Cases

def ks_for(n, with_trivial=True):
    ks = {1, min(3, n), max(1, n // 2), max(1, n - 1)}
    if with_trivial and n >= 64:
        ks |= {10, n // 4, 3 * n // 4}
    if with_trivial:
        ks |= {n, n + 3}
    return sorted(ks)


FUZZ_CASES = 60


def fuzz_params(method, prng):
    if method == 'random':
        return {'seed': int(prng.integers(0, 2**63)) * 2 + int(prng.integers(0, 2))}
    if method not in ('script', 'script-authors', 'gsp'):
        return {}
    p = {'tau': round(float(prng.uniform(-0.5, 0.95)), 3),
         'k_min': int(prng.integers(0, 13)),
         'gamma': float(prng.choice([0.0, 0.5, 1.0, 2.5, 5.0])),
         'graph': ['bipartite', 'full'][prng.integers(2)]}
    if method == 'script':
        p['rho'] = int(prng.integers(1, 9)) / 8  # dyadic: ceil(rho * N) exact
    return p


def build_specs(method):
    """The deterministic list of case specifications of a method."""
    specs = []
    params = PARAMS[method]
    c = 0

    def add(kind, n, k, extra=None):
        nonlocal c
        grids = GRIDS.get(n, [None])
        spec = {
            'kind': kind, 'n': n, 'k': k, 'd': DS[c % len(DS)], 'm': MS[(c // 3) % len(MS)],
            'emb': [None, 'same', 'other'][c % 3], 'grid': grids[(c // 2) % len(grids)],
            'qempty': c % 7 == 3, 'params': params[c % len(params)],
        }
        if kind == 'query-token' and spec['m'] == 0:
            spec['m'] = 1  # the kind is about a query row equal to a token
        if n == 576 and spec['d'] == 257:
            spec['d'] = 64  # keep the run short; 257 is covered at 196
        if extra:
            spec.update(extra)
        specs.append(spec)
        c += 1

    for n in NS:  # random Gaussian data: the cases the 25% rule is about
        for k in ks_for(n):
            for _ in range(2 if n < 576 else 1):
                add('gauss', n, k)
    for kind in STRUCTURED:
        for n in NS[1:]:
            for k in ks_for(n, with_trivial=False):
                if n == 576 and k not in (3, 288):
                    continue
                add(kind, n, k)
    # Random draws over a wider parameter space (also Gaussian data, so counted as random).
    prng = np.random.default_rng([zlib.crc32(method.encode()), 7])
    for _ in range(FUZZ_CASES):
        n = int(prng.choice([13, 50, 64, 100, 196, 256, 576]))
        divisors = [h for h in range(1, n + 1) if n % h == 0]
        h = int(prng.choice(divisors))
        extra = {'d': int(prng.choice(DS if n < 576 else DS[:4])),
                 'm': int(prng.choice(MS)), 'emb': [None, 'same', 'other'][prng.integers(3)],
                 'grid': (h, n // h) if prng.random() < 0.7 else None, 'qempty': False,
                 'params': fuzz_params(method, prng)}
        add('gauss', n, int(prng.integers(1, n)), extra)
    # Tolerance chains: values 6e-5 apart, so neighbours are within the choose tolerance and
    # next-but-one are not; a ranking by repeated choose then differs from any sort.
    for n in (16, 40, 100):
        for k in sorted({1, 3, n // 4, n // 2, n // 2 + 1, 3 * n // 4 - 1, n - 3}):
            rel = method in ('qcsp', 'script', 'script-authors')
            add('chain', n, k, {'m': 1, 'qempty': False, 'd': 2 if k % 2 else 16,
                                'emb': 'same' if rel else None, 'grid': None,
                                'params': {'k_min': 0} if method in ('gsp', 'script') else {}})
    # Near-collinear tokens with k around the rank D: the DPP residuals fall through the 1e-4
    # stop before the rank is exhausted, so the fill by relevance takes over.
    for i, (n, d, k) in enumerate([(64, 16, 12), (64, 16, 20), (196, 64, 40), (196, 16, 14),
                                   (100, 32, 30), (100, 32, 26), (196, 64, 56), (64, 8, 7)]):
        add('collinear', n, k, {'d': d, 'm': [0, 1, 2][i % 3], 'qempty': False})
    # Degenerate relevance by exact zeros: an all-zero query, or all-zero embeddings.
    for i, (n, k) in enumerate([(7, 3), (64, 10), (64, 32), (196, 20), (196, 98), (13, 6)]):
        add('zeroquery', n, k, {'m': [1, 2, 5][i % 3], 'qempty': False, 'zero_e': i in (2, 5),
                                'emb': ['same', None, 'same', 'same', None, 'other'][i]})
    if method == 'pool':  # grid geometry: every k on small non-square grids
        for n in (12, 35):
            for k in range(1, n):
                add('gauss', n, k, {'d': 3, 'kind': 'grid'})
    if method == 'random':  # many seeds on a small frame
        for s in range(30):
            add('grid', 10, 1 + s % 9, {'params': {'seed': s * 7919 + s * s}, 'd': 1})
    return specs


def gen_data(method, cid, spec):
    """Float32 inputs of a case: X (N x D), E (N x e) or None, Q (M x e) or None."""
    rng = np.random.default_rng([zlib.crc32(method.encode()), cid])
    n, d, m, kind = spec['n'], spec['d'], spec['m'], spec['kind']
    ew = {None: d, 'same': d, 'other': 8 if d != 8 else 5}[spec['emb']]
    g = lambda *shape: rng.standard_normal(shape)  # noqa: E731
    X = g(n, d)
    E = g(n, ew) if spec['emb'] else None
    Q = g(m, ew)
    if kind == 'dup':
        for src in rng.choice(n, size=max(1, n // 6), replace=False):
            for dst in rng.choice(n, size=min(n, int(rng.integers(1, 4))), replace=False):
                scale = 2.0 if rng.random() < 0.2 else 1.0  # scaled copies: cosine 1 as well
                X[dst] = scale * X[src]
                if E is not None:
                    E[dst] = E[src]
    elif kind == 'identical':
        X[:] = X[0]
        if E is not None:
            E[:] = E[0]
    elif kind == 'zero':
        zr = rng.choice(n, size=max(1, n // 4), replace=False)
        X[zr] = 0
        if E is not None:
            E[rng.choice(n, size=max(1, n // 4), replace=False)] = 0
        if m >= 2:
            Q[0] = 0
    elif kind == 'clusters':
        nc = int(rng.integers(2, 6))
        centers = g(nc, d)
        # Spread well inside (1e-3: cosines 1 - 1e-6, ties) or well outside (5e-2: 1 - 2.5e-3)
        # the choose tolerance; 1e-2 would put cosines at 1 - 1e-4, on its boundary.
        spread = 1e-3 if rng.random() < 0.5 else 5e-2
        X = centers[rng.integers(0, nc, size=n)] + spread * g(n, d)
        if E is not None:
            E = E[0] + 0.5 * g(n, ew) * (rng.random((n, 1)) < 0.5)
    elif kind == 'query-token':
        rel = X if E is None else E
        Q[0] = rel[rng.integers(0, n)]
    elif kind == 'ties':
        X = rng.integers(-1, 2, size=(n, d)).astype(float)
        if E is not None:
            E = rng.integers(-1, 2, size=(n, ew)).astype(float)
        Q = rng.integers(-1, 2, size=(m, ew)).astype(float)
    elif kind == 'collinear':
        # One direction plus small offsets: after the first DPP pick the residuals d are about
        # eps^2 in [2.5e-5, 1e-3], on both sides of the 1e-4 stop (a 1e-10 stop would differ).
        u = g(d)
        u /= max(np.linalg.norm(u), 1e-12)
        eps = rng.choice([0.005, 0.0085, 0.012, 0.02, 0.03], size=(n, 1))
        offs = g(n, d)
        offs -= np.outer(offs @ u, u)
        offs /= np.maximum(np.linalg.norm(offs, axis=1, keepdims=True), 1e-12)
        X = u + eps * offs
    elif kind == 'zeroquery':
        if spec.get('zero_e'):
            E[:] = 0
        else:
            Q[:] = 0
    elif kind == 'chain':
        # Unit vectors with cosines 0.9 - j * 6e-5 (j shuffled) to the first axis.
        def chain(count, width):
            c = 0.9 - 6e-5 * rng.permutation(count)
            V = np.zeros((count, width))
            V[:, 0], V[:, 1] = c, np.sqrt(1 - c * c)
            return V
        axis = np.zeros(d)
        axis[0] = 1
        if E is not None:
            # Relevance chain: identical tokens (the DPP stops after one pick), embeddings whose
            # cosines to the query form the chain, one orthogonal embedding to pin min(raw) = 0.
            X[:] = X[0]
            E = chain(n, ew)
            E[rng.integers(n)] = np.eye(ew)[1]
            Q = np.eye(1, ew)
        else:
            # Score chain: even positions on the chain, odd positions on the axis.
            X = np.tile(axis, (n, 1))
            X[0::2] = chain((n + 1) // 2, d)
    f = lambda a: None if a is None else np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    Q = f(Q) if (m > 0 or spec['qempty']) else None
    if Q is not None and m == 1 and spec['qempty']:
        Q = Q[0]  # a 1-D query file is one row
    return f(X), f(E), Q


# --------------------------------------------------------------------------------------------
# Safetensors and CLI

def read_safetensors(path):
    """{name: numpy array} of a safetensors file, parsed by hand."""
    with open(path, 'rb') as fh:
        blob = fh.read()
    if len(blob) < 8:
        raise ValueError('file shorter than 8 bytes')
    hlen = struct.unpack('<Q', blob[:8])[0]
    if 8 + hlen > len(blob):
        raise ValueError('header length %d beyond the file' % hlen)
    header = json.loads(blob[8:8 + hlen].decode('utf-8'))
    data = blob[8 + hlen:]
    types = {'F32': '<f4', 'I64': '<i8', 'I16': '<i2', 'F64': '<f8', 'I32': '<i4', 'U32': '<u4',
             'F16': '<f2', 'U8': 'u1', 'I8': 'i1', 'U16': '<u2', 'U64': '<u8', 'BOOL': '?'}
    out = {}
    for name, t in header.items():
        if name == '__metadata__':
            continue
        dt = np.dtype(types[t['dtype']])
        b, e = t['data_offsets']
        shape = tuple(t['shape'])
        if not 0 <= b <= e <= len(data) or e - b != dt.itemsize * int(np.prod(shape, dtype=int)):
            raise ValueError('tensor %s: offsets %s do not fit shape %s' % (name, (b, e), shape))
        out[name] = (t['dtype'], np.frombuffer(data[b:e], dtype=dt).reshape(shape))
    return out


def cli_command(cli):
    if cli.endswith('.py'):
        return [sys.executable, cli]
    return [cli]


def case_args(method, spec, files):
    args = ['select', '--tokens', files['X'], '--budget', str(spec['k'])]
    if 'E' in files:
        args += ['--embeddings', files['E']]
    if 'Q' in files:
        args += ['--query', files['Q']]
    p = spec['params']
    if not p.get('no_method'):
        args += ['--method', method]
    for key, opt in OPTION.items():
        if key in p:
            args += [opt, str(p[key])]
    if spec['grid'] is not None:
        args += ['--grid', '%dx%d' % spec['grid']]
    args += ['--out', files['out']]
    return args


def ref_kwargs(spec):
    kw = {key: spec['params'][key] for key in OPTION if key in spec['params']}
    kw['k'] = spec['k']
    kw['grid'] = spec['grid']
    return kw


def describe(method, cid, spec):
    p = dict(spec['params'])
    return ('%s case %d: kind=%s N=%d D=%d k=%d emb=%s M=%d%s grid=%s params=%s' %
            (method, cid, spec['kind'], spec['n'], spec['d'], spec['k'], spec['emb'], spec['m'],
             {0: ' (empty query file)', 1: ' (1-D query file)'}.get(spec['m'], '')
             if spec['qempty'] else '',
             'default' if spec['grid'] is None else '%dx%d' % spec['grid'], p or 'defaults'))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


# --------------------------------------------------------------------------------------------
# One case

class Outcome:
    def __init__(self):
        self.status = None  # 'match', 'ill', 'fail'
        self.messages = []
        self.ill_matches_plain = None

    def fail(self, msg):
        self.status = 'fail'
        self.messages.append(msg)


def run_case(cli, method, cid, spec, workdir, verbose=False):
    X, E, Q = gen_data(method, cid, spec)
    files = {'X': os.path.join(workdir, 'X.npy'), 'out': os.path.join(workdir, 'kept.safetensors')}
    np.save(files['X'], X)
    if E is not None:
        files['E'] = os.path.join(workdir, 'E.npy')
        np.save(files['E'], E)
    if Q is not None:
        files['Q'] = os.path.join(workdir, 'Q.npy')
        np.save(files['Q'], Q)
    if os.path.exists(files['out']):
        os.unlink(files['out'])
    args = case_args(method, spec, files)
    cmd = cli_command(cli) + args
    o = Outcome()
    o.cmd = ' '.join(shlex.quote(a) for a in cmd)

    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        o.fail('CLI timed out after %d s' % CLI_TIMEOUT)
        return o
    stdout = proc.stdout.decode('utf-8', 'replace')
    stderr = proc.stderr.decode('utf-8', 'replace')
    if proc.returncode != 0 and spec['qempty'] and spec['m'] == 0 and 'Q' in files:
        # algorithm.md has Q as M x E with M >= 0: a 0 x E query file is a valid "no query".
        # Fail, then still compare the case without --query.
        o.fail('CLI rejects an empty (0 x %d) query file, exit status %d: %s' %
               (Q.shape[1], proc.returncode, stderr.strip()))
        i = cmd.index('--query')
        cmd = cmd[:i] + cmd[i + 2:]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            o.fail('CLI timed out after %d s' % CLI_TIMEOUT)
            return o
        stdout = proc.stdout.decode('utf-8', 'replace')
        stderr = proc.stderr.decode('utf-8', 'replace')
    if proc.returncode != 0:
        o.fail('CLI exit status %d on valid input; stderr: %s' % (proc.returncode, stderr.strip()))
        return o

    # stdout: the indices, ascending, space-separated, on one line.
    lines = stdout.strip('\n').split('\n')
    try:
        if len(lines) != 1:
            raise ValueError('%d lines' % len(lines))
        got = [int(t) for t in lines[0].strip().split(' ')]
    except ValueError as e:
        o.fail('stdout is not one line of indices (%s): %r' % (e, stdout[:300]))
        return o

    n, d, k = spec['n'], spec['d'], spec['k']
    count = min(k, n)
    h, w = R.default_grid(n) if spec['grid'] is None else spec['grid']
    if len(got) != count:
        o.fail('CLI printed %d indices, expected min(k, N) = %d' % (len(got), count))
    if got != sorted(set(got)) or any(not 0 <= i < n for i in got):
        o.fail('CLI indices are not strictly ascending within [0, N): %s' % got)

    # --out: tokens F32 [count, D], index I64 [count], yx I16 [count, 2].
    try:
        st = read_safetensors(files['out'])
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        o.fail('cannot read --out safetensors: %s' % e)
        st = None
    ctok = None
    if st is not None:
        want = {'tokens': ('F32', (len(got), d)), 'index': ('I64', (len(got),)),
                'yx': ('I16', (len(got), 2))}
        for name, (dt, shape) in want.items():
            if name not in st:
                o.fail('--out lacks tensor %r (has %s)' % (name, sorted(st)))
            elif st[name][0] != dt or st[name][1].shape != shape:
                o.fail('--out tensor %s is %s %s, expected %s %s' %
                       (name, st[name][0], st[name][1].shape, dt, shape))
        if o.status != 'fail':
            idx_t = st['index'][1].astype(np.int64)
            if list(idx_t) != got:
                o.fail('--out index %s differs from stdout %s' % (list(idx_t), got))
            yx = st['yx'][1].astype(np.int64)
            exp_yx = np.stack([idx_t // w, idx_t % w], axis=1)
            if not np.array_equal(yx, exp_yx):
                bad = int(np.flatnonzero((yx != exp_yx).any(axis=1))[0])
                o.fail('--out yx[%d] = %s, index %d on a %dx%d grid is %s' %
                       (bad, list(yx[bad]), idx_t[bad], h, w, list(exp_yx[bad])))
            ctok = st['tokens'][1]
            if method not in R.MERGING or k >= n:
                if not np.array_equal(ctok, X[got]):
                    bad = int(np.flatnonzero((ctok != X[got]).any(axis=1))[0])
                    o.fail('--out tokens row %d is not a copy of token %d' % (bad, got[bad]))

    # The reference, plain and perturbed.
    idx, rtok, ok, others = R.conditioning(method, X, E, Q, **ref_kwargs(spec))
    ref = [int(i) for i in idx]
    if not ok:
        o.ill_matches_plain = got == ref
        if o.status != 'fail':
            o.status = 'ill'
        if verbose:
            print('  ill-conditioned: %s; CLI %s the plain reference' %
                  (describe(method, cid, spec), 'matches' if got == ref else 'differs from'))
        return o
    if got != ref:
        i = first_diff(got, ref)
        o.fail('index mismatch on a well-conditioned case (first difference at position %d: '
               'C %s, reference %s)\n    C:         %s\n    reference: %s' %
               (i, got[i] if i < len(got) else '-', ref[i] if i < len(ref) else '-', got, ref))
    elif method in R.MERGING and ctok is not None and ctok.shape == rtok.shape:
        if not np.allclose(ctok.astype(np.float64), rtok, rtol=TOKENS_RTOL, atol=TOKENS_ATOL):
            err = np.abs(ctok - rtok) - TOKENS_RTOL * np.abs(rtok)
            r, c = np.unravel_index(int(np.argmax(err)), err.shape)
            o.fail('merged token %d (index %d) column %d: C %.9g, reference %.9g' %
                   (r, got[r], c, ctok[r, c], rtok[r, c]))
    if o.status != 'fail':
        o.status = 'match'
    return o


# --------------------------------------------------------------------------------------------
# Error paths

def error_cases(tmp):
    rng = np.random.default_rng(99)
    p = lambda name: os.path.join(tmp, name)  # noqa: E731
    X = rng.standard_normal((16, 8)).astype(np.float32)
    np.save(p('X.npy'), X)
    np.save(p('E5.npy'), rng.standard_normal((15, 4)).astype(np.float32))
    np.save(p('E.npy'), rng.standard_normal((16, 4)).astype(np.float32))
    np.save(p('Q8.npy'), rng.standard_normal((2, 8)).astype(np.float32))
    np.save(p('Q6.npy'), rng.standard_normal((2, 6)).astype(np.float32))
    Xn = X.copy()
    Xn[3, 5] = np.nan
    np.save(p('Xnan.npy'), Xn)
    Xi = X.copy()
    Xi[7, 0] = np.inf
    np.save(p('Xinf.npy'), Xi)
    np.save(p('X1d.npy'), X[0])
    np.save(p('E1d.npy'), X[0, :4])
    np.save(p('X3d.npy'), X.reshape(2, 8, 8))
    np.save(p('X0.npy'), X[:0])
    np.save(p('X64.npy'), X.astype(np.float64))
    with open(p('text.npy'), 'w') as fh:
        fh.write('this is not a numpy file\n')
    with open(p('trunc.npy'), 'wb') as fh:
        fh.write(open(p('X.npy'), 'rb').read()[:200])
    base = ['select', '--tokens', p('X.npy'), '--budget', '4']
    return [
        ('missing tokens file', ['select', '--tokens', p('nonexistent.npy'), '--budget', '4']),
        ('non-npy tokens file', ['select', '--tokens', p('text.npy'), '--budget', '4']),
        ('truncated npy file', ['select', '--tokens', p('trunc.npy'), '--budget', '4']),
        ('NaN in tokens', ['select', '--tokens', p('Xnan.npy'), '--budget', '4']),
        ('Inf in tokens', ['select', '--tokens', p('Xinf.npy'), '--budget', '4']),
        ('1-D tokens array', ['select', '--tokens', p('X1d.npy'), '--budget', '4']),
        ('1-D embeddings array', base + ['--embeddings', p('E1d.npy')]),
        ('3-D tokens array', ['select', '--tokens', p('X3d.npy'), '--budget', '4']),
        ('tokens with no rows', ['select', '--tokens', p('X0.npy'), '--budget', '4']),
        ('float64 tokens', ['select', '--tokens', p('X64.npy'), '--budget', '4']),
        ('tokens/embeddings row mismatch', base + ['--embeddings', p('E5.npy')]),
        ('query width != token width', base + ['--query', p('Q6.npy')]),
        ('query width != embedding width', base + ['--embeddings', p('E.npy'),
                                                   '--query', p('Q8.npy')]),
        ('budget 0', ['select', '--tokens', p('X.npy'), '--budget', '0']),
        ('budget not a number', ['select', '--tokens', p('X.npy'), '--budget', 'four']),
        ('unknown method', base + ['--method', 'nosuchmethod']),
        ('unknown graph form', base + ['--graph', 'ring']),
        ('tau 1.5', base + ['--tau', '1.5']),
        ('tau -1.5', base + ['--tau', '-1.5']),
        ('rho 0', base + ['--rho', '0']),
        ('grid that does not hold N', base + ['--grid', '3x5']),
        ('missing --tokens', ['select', '--budget', '4']),
    ]


def run_errors(cli, tmp):
    failures = 0
    cases = error_cases(tmp)
    for name, args in cases:
        cmd = cli_command(cli) + args
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=CLI_TIMEOUT)
        except subprocess.TimeoutExpired:
            print('FAIL errors: %s: timed out' % name)
            failures += 1
            continue
        err = proc.stderr.decode('utf-8', 'replace')
        problems = []
        if proc.returncode < 0:
            problems.append('killed by signal %d' % -proc.returncode)
        elif proc.returncode != 2:
            problems.append('exit status %d, expected 2' % proc.returncode)
        body = err[:-1] if err.endswith('\n') else err
        if not body.strip():
            problems.append('empty stderr')
        elif '\n' in body:
            problems.append('stderr has %d lines, expected one' % (body.count('\n') + 1))
        if problems:
            failures += 1
            print('FAIL errors: %s: %s\n    command: %s\n    stderr: %r' %
                  (name, '; '.join(problems), ' '.join(shlex.quote(a) for a in cmd), err[:500]))
        else:
            print('  ok  errors: %s -> %s' % (name, body.strip()))
    print('errors: %d cases, %d failed' % (len(cases), failures))
    return failures == 0


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cli', required=True, help='path of the scriptprune executable')
    ap.add_argument('--methods', default='all',
                    help='comma-separated methods, "errors", or "all" (default)')
    ap.add_argument('--case', type=int, action='append',
                    help='run only this case id (repeatable)')
    ap.add_argument('--keep', help='keep the case files in this directory')
    ap.add_argument('--list', action='store_true', help='list the cases and exit')
    ap.add_argument('-v', '--verbose', action='store_true')
    a = ap.parse_args()

    methods = list(R.METHODS) + ['errors'] if a.methods == 'all' else a.methods.split(',')
    for m in methods:
        if m not in R.METHODS and m != 'errors':
            ap.error('unknown method %r' % m)
    if not os.path.exists(a.cli):
        print('CLI not found: %s' % a.cli)
        return 1

    ok = True
    summary = []
    with tempfile.TemporaryDirectory(prefix='check_select.') as tmp:
        root = a.keep or tmp
        os.makedirs(root, exist_ok=True)
        for m in methods:
            if m == 'errors':
                ok &= run_errors(a.cli, root)
                continue
            specs = build_specs(m)
            ids = a.case if a.case else range(len(specs))
            if a.list:
                for cid in ids:
                    print(describe(m, cid, specs[cid]))
                continue
            t0 = time.time()
            st = {'cases': 0, 'match': 0, 'ill': 0, 'fail': 0, 'rand': 0, 'rand_ill': 0,
                  'ill_plain': 0}

            for cid in ids:
                spec = specs[cid]
                wd = os.path.join(root, '%s-%d' % (m, cid))
                os.makedirs(wd, exist_ok=True)
                o = run_case(a.cli, m, cid, spec, wd, a.verbose)
                st['cases'] += 1
                st[o.status] += 1
                if o.status == 'ill' and o.ill_matches_plain:
                    st['ill_plain'] += 1
                if spec['kind'] == 'gauss':
                    st['rand'] += 1
                    st['rand_ill'] += o.status == 'ill'
                if o.status == 'fail':
                    print('FAIL %s' % describe(m, cid, spec))
                    for msg in o.messages:
                        print('    ' + msg)
                    print('    command: %s' % o.cmd)
                    print('    reproduce: %s %s --cli %s --methods %s --case %d --keep DIR' %
                          (sys.executable, os.path.abspath(__file__), a.cli, m, cid))
            frac = st['rand_ill'] / st['rand'] if st['rand'] else 0.0
            line = ('%-15s %4d cases, %4d matched, %3d ill-conditioned skipped (%d of them '
                    'matched the plain reference anyway), %d failed; random cases %d, '
                    'ill-conditioned %d (%.0f%%); %.1f s' %
                    (m, st['cases'], st['match'], st['ill'], st['ill_plain'], st['fail'],
                     st['rand'], st['rand_ill'], 100 * frac, time.time() - t0))
            summary.append(line)
            if st['fail']:
                ok = False
            if not a.case and frac > ILL_RANDOM_LIMIT:
                summary.append('FAIL %s: %.0f%% of the random cases are ill-conditioned (limit '
                               '%.0f%%): the test data needs rethinking' %
                               (m, 100 * frac, 100 * ILL_RANDOM_LIMIT))
                ok = False
            sys.stdout.flush()
        if a.keep:
            print('case files kept in %s' % a.keep)
    for line in summary:
        print(line)
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
