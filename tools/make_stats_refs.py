"""Reference values for pathlens' statistics tests, from scipy (Debian's python3-scipy):
Student t CDF over many degrees of freedom and t values, and one-sided Welch t-tests
(scipy.stats.ttest_ind(a, b, equal_var=False, alternative='greater')) on fixed data.

Run: /usr/bin/python3 tools/make_stats_refs.py   (writes test/fixtures/stats/scipy_refs.json)
"""
import json
import os

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "stats", "scipy_refs.json")

cdf = []
for df in [0.5, 1, 1.5, 2, 3, 4.7, 7, 10, 29.3, 30, 100, 1000, 1e5]:
    for t in [-40, -8, -3.3, -2, -1, -0.25, 0, 0.1, 0.7, 1.5, 2.2, 4, 9.5, 60]:
        cdf.append({"df": df, "t": t, "cdf": float(stats.t.cdf(t, df)), "sf": float(stats.t.sf(t, df))})

rng = np.random.default_rng(7)
welch = []
for n1, n2, shift, s1, s2 in [(5, 5, 0.0, 1, 1), (8, 12, 0.5, 1, 2), (20, 20, 1.0, 0.5, 0.5), (3, 9, -0.4, 2, 0.3), (50, 50, 0.1, 1, 1.5)]:
    a = rng.normal(shift, s1, n1)
    b = rng.normal(0, s2, n2)
    r = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    welch.append({"a": a.tolist(), "b": b.tolist(), "t": float(r.statistic), "p": float(r.pvalue)})

ranks = []
for row in [[3, 1, 2], [1, 1, 2, 5, 5, 5], [0.5, -1, 0.5, 2]]:
    ranks.append({"x": row, "ranks": stats.rankdata(row).tolist()})

p = [0.001, 0.01, 0.02, 0.04, 0.2, 0.5, 0.03]
# Benjamini–Hochberg adjusted p-values (step-up, monotone), as statsmodels' multipletests(method="fdr_bh")
order = np.argsort(p)
m = len(p)
adj = np.empty(m)
prev = 1.0
for rank in range(m, 0, -1):
    i = order[rank - 1]
    prev = min(prev, p[i] * m / rank)
    adj[i] = prev
bh = {"p": p, "adjusted": adj.tolist()}

with open(OUT, "w") as f:
    json.dump({"scipy": scipy.__version__, "t_cdf": cdf, "welch_greater": welch, "ranks": ranks, "bh": bh}, f, indent=1)
