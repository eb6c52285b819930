"""A training run's configuration (`TrainConfig`): every choice a run is made with, checked
before anything loads, and kept in the run directory's config.json so `--resume` goes on
with the same ones.

What a network learns from (`TrainConfig.target`): FER-2013's single label ("label"), the
FER+ majority of 10 annotators ("majority", one-hot) or their whole vote distribution
("votes", cross-entropy against it: Barsoum et al. 2016's "probability" mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acting_mirror.training.augment import AUGMENTATIONS
from acting_mirror.training.data import ALL_SPLITS, class_index

# focal: cross-entropy weighted by (1 - p_true)^gamma, so faces the network already reads well
# count less and hard ones (restrained anger, scared vs sad) more (Lin et al. 2017)
LOSSES = ("categorical_crossentropy", "focal", "mean_squared_error", "squared_hinge")
TARGETS = ("label", "majority", "votes")
# the equalize rule of the models trained on the stretched copy (kept for their runs' --resume;
# see inputs.EQUALIZE_PERCENTILE for the rule runs derive now)
EQUALIZE_UNLIKE_FER = {"std_below": 70.0, "mean_below": 105.0, "mean_above": 170.0}


@dataclass
class TrainConfig:
    data: str
    run_dir: str
    architecture: str = "mirror_net"
    width: float = 1.0
    loss: str = "categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 100
    schedule: str = "cosine"          # cosine | plateau | constant
    warmup_epochs: int = 2
    augment: list = field(default_factory=lambda: ["geometric"])
    label_smoothing: float = 0.0
    focal_gamma: float = 2.0          # focal loss only: 0 is plain cross-entropy
    exclude: list = field(default_factory=list)  # FER class names left out
    early_stopping: int = 0           # patience in epochs, 0 = off
    plateau_patience: int = 5
    seed: int = 1
    train_split: str = "Training"
    val_split: str = "PublicTest"
    threads: int = 0                  # 0 = TensorFlow's default
    init_from: str = ""               # a .keras model of the same architecture to start from
    ema: float = 0.0                  # momentum of the weights' moving average (0 = off)
    teacher: str = ""                 # distillation: the teacher model (metadata JSON) run as the app runs it
    temperature: float = 3.0          # distillation: softening of teacher and student probabilities
    alpha: float = 0.3                # distillation: weight of the true labels (1 - alpha: the teacher's)
    teacher_copies: int = 0           # distillation: 0 = the teacher labels the clean rows; K = K augmented
                                      # copies of each row, each labelled as it is (consistent teaching)
    target: str = "label"             # label | majority | votes (FER+; see the module docstring)
    label_weight: float = 0.0         # votes only: this share of each target is FER-2013's own label
    crowd_only: list = field(default_factory=list)  # votes only: faces whose FER+ majority is one of
                                      # these classes keep the crowd's distribution, label weight 0
    crowd_weight: float = 0.0         # ... or this label weight instead of 0 (between 0 and label_weight)
    equalize: dict | None = None      # the equalize rule; None = derived from the training faces

    def validate(self) -> None:
        from acting_mirror.training.architectures import ARCHITECTURES

        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose from {', '.join(ARCHITECTURES)}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.schedule not in ("cosine", "plateau", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; choose cosine, plateau or constant")
        if self.optimizer not in ("adam", "sgd", "adamw"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose adam, adamw or sgd")
        for name in self.augment:
            if name not in AUGMENTATIONS:
                raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
        if {"geometric", "warp"} <= set(self.augment):
            raise ValueError("choose geometric or warp, not both: they are the same changes, resampled differently")
        for name in self.exclude:
            class_index(name)
        for split in (self.train_split, self.val_split):
            if split not in ALL_SPLITS:
                raise ValueError(f"unknown split {split!r}; choose from {', '.join(ALL_SPLITS)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; choose from {', '.join(TARGETS)}")
        if self.target != "label" and (self.exclude or self.teacher):
            raise ValueError(f"target {self.target} keeps all 7 emotions and takes no teacher: "
                             "--exclude and distillation train on single labels")
        if not 0.0 <= self.label_weight <= 1.0 or (self.label_weight and self.target != "votes"):
            raise ValueError("label weight must be in [0, 1], and is for target votes only")
        if self.crowd_only and not self.label_weight:
            raise ValueError("--crowd-only names the faces a label weight leaves alone: give --label-weight too")
        for name in self.crowd_only:
            class_index(name)
        if not 0.0 <= self.crowd_weight <= self.label_weight or (self.crowd_weight and not self.crowd_only):
            raise ValueError("--crowd-weight is the label weight of the --crowd-only faces: between 0 and "
                             "--label-weight, with --crowd-only")
        if self.focal_gamma < 0:
            raise ValueError(f"focal gamma {self.focal_gamma} must be 0 or more")
        if self.temperature <= 0 or not 0.0 <= self.alpha <= 1.0:
            raise ValueError("temperature must be positive and alpha in [0, 1]")
        if self.teacher_copies < 0 or (self.teacher_copies and not self.teacher):
            raise ValueError("teacher copies must be 0 or more, and need a teacher")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema momentum {self.ema} must be in [0, 1)")
        if self.width <= 0 or self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("width, epochs, batch size and learning rate must be positive")
