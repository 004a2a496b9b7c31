"""Judging a run's validation and test parts as prediction judges a face: averaged with its mirror image and,
where it has one, its mirror view; figures per source dataset; the calibration fitted on the validation part."""

from __future__ import annotations

from .calibration import expected_calibration_error, fit_temperature_and_bias
from .evaluation import classification_metrics
from .training_data import TrainingData

CHUNK = 1024  # faces per forward pass, so a large part does not need memory for all its activations at once


class PartJudge:
    """Metrics of the judged parts for `model` (the weights that are validated and kept), as it is now."""

    def __init__(self, model, data: TrainingData, images_of: dict) -> None:  # noqa: ANN001 - ExpressionTransformer
        self.model, self.data, self.images_of = model, data, images_of

    def evaluate(self, name: str) -> tuple[float, dict]:
        """(loss, metrics) of the part `name` (val or test)."""
        import torch

        labels = self.data.tensors[name][-1]
        probs = self._over_views(name, self.model.probabilities)
        logp = torch.log(probs.clamp_min(1e-12))
        loss = float(torch.nn.functional.nll_loss(logp, labels))
        y_true, y_pred = labels.numpy(), logp.argmax(1).numpy()
        metrics = classification_metrics(y_true, y_pred)
        metrics["ece"] = expected_calibration_error(probs.numpy(), y_true)
        sources = self.data.fs.datasets[self.data.part_idx(name)].astype(str)
        by_source = {}
        for src in sorted(set(sources)):
            part = sources == src
            by_source[src] = classification_metrics(y_true[part], y_pred[part])
            images = self.images_of.get((src, name))
            if images:  # images of that dataset in this part, faces found or not: a missed face counts as wrong
                by_source[src].update(n_images=images, accuracy_all=float((y_true[part] == y_pred[part]).sum() / images))
        if len(by_source) > 1 or any("accuracy_all" in m for m in by_source.values()):
            metrics["by_source"] = by_source
        return loss, metrics

    def calibrate(self, mode: str) -> dict:
        """Temperature (and with mode prior, the class prior) fitted on the validation part and set in the model;
        the ECE of the validation and test parts before and after, so the model card can say whether it helped."""
        import torch

        if mode == "none":
            return {"mode": "none"}
        before = {name: self.evaluate(name)[1] for name in ("val", "test") if len(self.data.part_idx(name))}
        labels = self.data.tensors["val"][-1].numpy()
        logits = self._over_views("val", self.model.mirrored_logits).numpy()  # what a temperature and bias apply to
        # Renderings are fitted on only when there is nothing else: they are degraded copies (less sure faces, in
        # their dataset's class mix again), and a temperature fitted on them over-sharpens cameras' own faces.
        real = ~self.data.fs.rendered[self.data.part_idx("val")]
        if real.any():
            logits, labels = logits[real], labels[real]
        temperature, bias = fit_temperature_and_bias(logits, labels, bias=mode == "prior")
        self.model.temperature.fill_(temperature)
        self.model.logit_bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        after = {name: self.evaluate(name)[1] for name in before}
        return {"mode": mode, "fitted_on": int(len(labels)), "temperature": temperature,
                "logit_bias": [round(float(v), 4) for v in bias],
                **{f"{name}_ece": {"before": before[name]["ece"], "after": after[name]["ece"]} for name in before},
                **{f"{name}_accuracy": {"before": before[name]["accuracy"], "after": after[name]["accuracy"]}
                   for name in before},
                **{f"{name}_macro_f1": {"before": before[name]["macro_f1"], "after": after[name]["macro_f1"]}
                   for name in before}}

    def _over_views(self, name: str, fn):  # noqa: ANN001, ANN202 - torch.Tensor
        """`fn` (probabilities or mirrored logits) of a part, averaged with its faces' mirror views."""
        import torch

        *inputs, _ = self.data.tensors[name]
        self.model.eval()
        with torch.inference_mode():
            out = _chunked(fn, inputs)
            positions, view_inputs = self.data.views.get(name, (torch.zeros(0, dtype=torch.int64), None))
            if len(positions):
                out[positions] = (out[positions] + _chunked(fn, view_inputs)) / 2
        return out


def _chunked(fn, inputs):  # noqa: ANN001, ANN202
    import torch

    return torch.cat([fn(*(t[s:s + CHUNK] for t in inputs)) for s in range(0, len(inputs[0]), CHUNK)])
