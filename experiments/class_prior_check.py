"""Would weighting the classes by their frequency help the weak ones? Measured without a
training run: logit adjustment (Menon et al. 2021), the inference-time equivalent of a
frequency-balanced loss, subtracts tau x log(prior) from each class's log-probability.
tau 0 is the model as it is, tau 1 the balanced-error optimum. Nothing is chosen here: the
figures go to the model card.

    PYTHONPATH=. python experiments/class_prior_check.py --data fer2013.csv.gz --split PublicTest
"""

from __future__ import annotations

import sys

import numpy as np

TAUS = (0.0, 0.25, 0.5, 1.0)


def main(argv=None) -> int:
    from arguments import model_check_parser  # experiments/, the script's own folder

    args = model_check_parser(__doc__.splitlines()[0]).parse_args(argv)

    from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score

    from acting_mirror.model import load_classifier
    from acting_mirror.training.data import load_dataset
    from acting_mirror.training.evaluate import predict

    data = load_dataset(args.data, ("Training", args.split))
    prior = np.bincount(data["Training"].labels, minlength=7) / len(data["Training"])
    truth = data[args.split].labels
    models = args.model or ["acting_mirror/models/mirror_ensemble.json", "acting_mirror/models/mirror_net.json"]
    for path in models:
        classifier = load_classifier(path, "tflite", threads=args.threads, quantized=True)
        # as the app runs it: each face averaged over the model's own views
        _, probabilities = predict(classifier, data[args.split].images, views=classifier.views)
        print(f"{classifier.metadata.name} on {args.split}, recall per class: {', '.join(classifier.labels)}")
        for tau in TAUS:
            predicted = (np.log(probabilities + 1e-9) - tau * np.log(prior)).argmax(axis=1)
            recall = recall_score(truth, predicted, average=None)
            print(f"  tau {tau:4}: accuracy {accuracy_score(truth, predicted):.4f}, balanced "
                  f"{balanced_accuracy_score(truth, predicted):.4f}, recall "
                  + " ".join(f"{value:.3f}" for value in recall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
