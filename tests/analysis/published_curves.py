"""Real scaling curves from the literature, for testing the trend fits on data the project did not generate.

Each entry is (x, y, n_fit): the published points, of which the first ``n_fit`` are fitted and the
rest extrapolated, as in the source.

- ``bnsl_4digit_addition``: Caballero et al. (2022), "Broken Neural Scaling Laws", Figure 4 (left):
  test cross-entropy of 4-digit addition against training-set size, the points of the authors'
  repository (ethancaballero/broken_neural_scaling_laws, the 4-digit-addition fit script), which
  fits the first 14 and extrapolates the last 3 (their RMSLE 0.011).
- ``nmt_*``: Alabdulmohsin, Neyshabur and Zhai (2022), "Revisiting Neural Scaling Laws in Language
  and Vision", benchmark data (google-research, revisiting_neural_scaling_laws/data/benchmark.lang.csv):
  log-perplexity of neural machine translation against examples seen, fitted where the file marks
  ``Training = 1`` and extrapolated to the last point (``Training = 0``).
"""

from __future__ import annotations

# fmt: off
PUBLISHED_CURVES: dict[str, tuple[list[float], list[float], int]] = {
    "bnsl_4digit_addition": (
        [160, 192, 256, 320, 384, 448, 480, 512, 544, 576, 608, 640, 672, 736, 800, 864, 928],
        [
            2.13809046, 2.11813418, 2.08955508, 2.06988398, 2.05404987, 2.03837089, 2.02814281, 2.00496872,
            1.95576149, 1.86313841, 1.70891537, 1.50637664, 1.29754721, 0.96559684, 0.75856477, 0.64768338,
            0.55695445,
        ],
        14,
    ),
    "nmt_6enc_6dec": (
        [5e5, 1e6, 2e6, 4e6, 8e6, 16e6, 32e6, 64e6, 128e6, 256e6, 512e6],
        [
            0.9311752923076924, 0.7439282076923077, 0.6362391538461539, 0.5567884999999999, 0.4820073461538462,
            0.40960946153846156, 0.3737405153846154, 0.3531731307692308, 0.34907098076923077, 0.3402780576923077,
            0.3401562576923077,
        ],
        10,
    ),
    "nmt_28enc_6dec": (
        [1e6, 2e6, 4e6, 8e6, 16e6, 32e6, 64e6, 128e6, 256e6, 512e6],
        [
            0.759195326923077, 0.6557881538461537, 0.5905543076923077, 0.5085194230769231, 0.43818853846153843,
            0.38691630769230767, 0.35276568846153844, 0.32963344615384615, 0.31268725, 0.30665264615384613,
        ],
        9,
    ),
    "nmt_6enc_28dec": (
        [5e5, 1e6, 2e6, 4e6, 8e6, 16e6, 32e6, 64e6, 128e6, 256e6, 512e6],
        [
            0.9903227692307692, 0.8178963653846154, 0.6847281153846153, 0.596147423076923, 0.5069471923076923,
            0.42430973076923073, 0.37750491538461534, 0.3420281192307692, 0.31908395384615384, 0.3003186461538462,
            0.2968776230769231,
        ],
        10,
    ),
}
# fmt: on
