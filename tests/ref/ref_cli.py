#!/usr/bin/python3
"""The numpy reference behind the `scriptprune select` command line, for developing and checking
check_select.py without the C code (check_select.py --cli tests/ref/ref_cli.py). Not the product.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import select_ref as R  # noqa: E402


class BadInput(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise BadInput(message)


def load(path, what, one_d_ok=False):
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BadInput('%s: cannot read %s: %s' % (what, path, str(e).split('\n')[0]))
    if a.ndim == 1 and one_d_ok:  # like the C CLI: a 1-D query is one row
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise BadInput('%s: expected a 2-D array, got shape %s' % (what, a.shape))
    if a.dtype != np.float32:
        raise BadInput('%s: expected float32, got %s' % (what, a.dtype))
    if not np.isfinite(a).all():
        r, c = np.argwhere(~np.isfinite(a))[0]
        raise BadInput('%s: non-finite value at row %d, column %d' % (what, r, c))
    return a


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, (dt, arr) in tensors.items():
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {'dtype': dt, 'shape': list(arr.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as fh:
        fh.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def run(argv):
    ap = Parser(prog='scriptprune')
    ap.add_argument('command', choices=['select'])
    ap.add_argument('--tokens', required=True)
    ap.add_argument('--embeddings')
    ap.add_argument('--query')
    ap.add_argument('--budget', type=int, required=True)
    ap.add_argument('--method', default='script')
    ap.add_argument('--graph', default='bipartite')
    ap.add_argument('--tau', type=float, default=0.2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--k-min', type=int, default=4)
    ap.add_argument('--gamma', type=float, default=1.0)
    ap.add_argument('--rho', type=float, default=0.5)
    ap.add_argument('--grid')
    ap.add_argument('--out')
    a = ap.parse_args(argv)
    if a.method not in R.METHODS:
        raise BadInput('unknown method %r (valid: %s)' % (a.method, ', '.join(R.METHODS)))
    if a.graph not in ('bipartite', 'full'):
        raise BadInput('unknown graph %r (valid: bipartite, full)' % a.graph)
    if a.budget < 1:
        raise BadInput('budget must be >= 1')
    if not -1 <= a.tau <= 1:
        raise BadInput('tau must be in [-1, 1]')
    if not 0 < a.rho <= 1:
        raise BadInput('rho must be in (0, 1]')
    X = load(a.tokens, 'tokens')
    n = X.shape[0]
    if n < 1 or X.shape[1] < 1:
        raise BadInput('tokens: empty array')
    E = load(a.embeddings, 'embeddings') if a.embeddings else None
    if E is not None and E.shape[0] != n:
        raise BadInput('embeddings have %d rows, tokens %d' % (E.shape[0], n))
    ew = X.shape[1] if E is None else E.shape[1]
    Q = load(a.query, 'query', one_d_ok=True) if a.query else None
    if Q is not None and Q.shape[1] != ew:
        raise BadInput('query width %d != %d' % (Q.shape[1], ew))
    if a.grid:
        try:
            h, w = (int(v) for v in a.grid.split('x'))
        except ValueError:
            raise BadInput('bad grid %r' % a.grid)
        if h * w != n:
            raise BadInput('grid %s does not hold %d tokens' % (a.grid, n))
    else:
        h, w = R.default_grid(n)
    idx, tok = R.select(a.method, X, E, Q, k=a.budget, grid=(h, w), tau=a.tau, k_min=a.k_min,
                        gamma=a.gamma, rho=a.rho, seed=a.seed, graph=a.graph)
    print(' '.join(str(i) for i in idx))
    if a.out:
        write_safetensors(a.out, {
            'tokens': ('F32', tok.astype(np.float32)),
            'index': ('I64', idx.astype(np.int64)),
            'yx': ('I16', np.stack([idx // w, idx % w], axis=1).astype(np.int16)),
        })


if __name__ == '__main__':
    try:
        run(sys.argv[1:])
    except BadInput as e:
        sys.stderr.write('scriptprune: %s\n' % e)
        sys.exit(2)
