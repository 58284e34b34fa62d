"""The delayed XOR task: a stream of random bits, two of them marked; at the last step, the
XOR of the two marked bits.

A worked plugin task (docs/plugins.md): the batch generator draws from the cell's generator,
the loss is the cross-entropy of two classes, the memoryless baseline is ln 2 (a network that
forgot either bit can only guess), and a sequence counts as solved when the readout's argmax is
the XOR.
"""

import math

import numpy as np

from rnngrad.core.tasks import Batch


class DelayedXor:
    """Delayed XOR: bits b_t = +-1 with a marker channel; the first marked bit lies in the first
    tenth of the sequence, the second in its first half; answer b_i XOR b_j at step T. Neither
    bit alone says anything about the answer, so both must be carried over the gap."""

    citation = "after Hochreiter and Schmidhuber 1997, experiment 5 (XOR of distant bits)"
    n_in = 2  # the bit, the marker
    n_out = 2  # the two classes
    min_seq_len = 10  # a first tenth of at least one step
    short_memory_accuracy = 0.5  # one bit alone: a coin

    def make_batch(self, seq_len, batch, rng):
        T, cols = seq_len, np.arange(batch)
        bits = rng.integers(0, 2, size=(T, batch))
        first = rng.integers(0, T // 10, size=batch)
        second = rng.integers(T // 10, T // 2, size=batch)
        markers = np.zeros((T, batch))
        markers[first, cols] = markers[second, cols] = 1.0
        x = np.stack([2.0 * bits - 1.0, markers], axis=-1)  # (T, B, 2)
        target = bits[first, cols] ^ bits[second, cols]
        return Batch(x, target.reshape(1, batch), np.array([T]), "xent", 1.0, 2)

    def baseline_loss(self, seq_len):
        return math.log(2.0)  # the answer is a fair coin to a memoryless predictor

    def short_memory_loss(self, seq_len):
        return math.log(2.0)  # one bit alone says nothing about the XOR

    def correct(self, outputs, batch):
        return outputs[-1].argmax(-1) == batch.targets[-1]


TASKS = {"delayed_xor": DelayedXor()}
