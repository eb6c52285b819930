"""What a run optimises and how: the loss (cross-entropy, focal, or distillation from a
teacher's softened probabilities), the accuracy metric, the optimizer and the learning-rate
schedule, each a function of the run's `TrainConfig`.
"""

from __future__ import annotations

import math

import numpy as np

from acting_mirror.training.run_config import TrainConfig


def learning_rate_at(config: TrainConfig, epoch: int) -> float:
    """Linear warm-up then cosine decay to 1% (a pure function of the epoch: resume-safe)."""
    if config.schedule != "cosine":
        return config.learning_rate
    if epoch < config.warmup_epochs:
        return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
    progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
    return config.learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a temperature: softmax(log p / T), i.e. p^(1/T) renormalised."""
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    return (soft / soft.sum(axis=1, keepdims=True)).astype(np.float32)


def distillation_loss(num_classes: int, temperature: float, alpha: float, label_smoothing: float = 0.0):
    """alpha x cross-entropy with the true labels + (1 - alpha) x T^2 x cross-entropy between
    the teacher's and the student's probabilities, both softened at temperature T (Hinton
    et al. 2015; T^2 keeps the soft term's gradients on the scale of the hard one's).
    The student ends in softmax, so log p is its logits up to a constant and
    log_softmax(log p / T) is exactly its softened log-probabilities."""
    from keras import ops

    def distillation(y_true, y_pred):
        hard, soft = y_true[:, :num_classes], y_true[:, num_classes:]
        if label_smoothing:
            hard = hard * (1.0 - label_smoothing) + label_smoothing / num_classes
        log_p = ops.log(ops.clip(y_pred, 1e-12, 1.0))
        hard_term = -ops.sum(hard * log_p, axis=-1)
        soft_term = -ops.sum(soft * ops.log_softmax(log_p / temperature, axis=-1), axis=-1)
        return alpha * hard_term + (1.0 - alpha) * temperature ** 2 * soft_term

    return distillation


def label_accuracy(num_classes: int):
    """Accuracy against the one-hot labels at the front of a distillation target."""
    from keras import ops

    def accuracy(y_true, y_pred):
        return ops.cast(ops.argmax(y_true[:, :num_classes], axis=-1) == ops.argmax(y_pred, axis=-1), "float32")

    return accuracy


def loss_for(config: TrainConfig, num_classes: int):
    import keras

    if config.teacher:
        return distillation_loss(num_classes, config.temperature, config.alpha, config.label_smoothing)
    if config.loss == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    if config.loss == "focal":
        # alpha 1: no class weighting (measured not to help the weak classes, see docs/experiments/models.md),
        # so gamma 0 is exactly cross-entropy
        return keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=config.focal_gamma,
                                                         label_smoothing=config.label_smoothing)
    return config.loss


def optimizer_for(config: TrainConfig):
    import keras

    # Polyak averaging of the weights: validation and checkpoints see the average
    ema = {"use_ema": True, "ema_momentum": config.ema} if config.ema else {}
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9, nesterov=True, **ema)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay or 1e-4, **ema)
    return keras.optimizers.Adam(config.learning_rate, **ema)
