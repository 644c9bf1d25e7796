"""K-fold ResNet-18 teachers in PyTorch: out-of-fold probabilities for every training face.

Fold ``k`` trains on the other folds' faces and predicts fold ``k``'s, so every training face
gets the probabilities of a teacher that never saw it (no memorised labels to copy), and each
fold's teacher also predicts the validation faces; their mean is the ensemble the report
scores. Folds run as parallel processes on one GPU, each on a wall-clock budget (a cosine
schedule that ends when the budget is spent, as the TensorFlow trainer does). Each fold keeps
its final weights (``fold_<k>.pt``) beside its records, for :mod:`.ensemble` to label new faces.

The network is ResNet-18 (torchvision) with a 3x3 stride-1 stem and no max-pool, for 48x48
faces, trained on the FER+ vote distributions with GPU-side augmentation (flip, rotation,
scale, shift, brightness/contrast, random erasing) in bfloat16 autocast.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict

import numpy as np

from converters.emotion.data import EMOTIONS, FaceSet, majority_labels, soft_label_rows
from converters.emotion.teacher.pack import unpack

log = logging.getLogger(__name__)


@dataclass
class TeacherConfig:
    """One fold's training run."""

    folds: int = 5  # 1: train on every face, no out-of-fold predictions (the probe command)
    arch: str = "resnet18"  # resnet18 | mobilenet_v3_small | mobilenet_v3_large (torchvision, from scratch)
    input_size: int = 48  # faces are resized to this after augmentation
    budget_minutes: float = 6.0
    max_epochs: int = 120
    batch_size: int = 256
    lr: float = 0.1
    weight_decay: float = 5e-4
    warmup_epochs: float = 2.0
    rotate_deg: float = 15.0
    scale: float = 0.15
    shift: float = 0.1
    jitter: float = 0.3
    erase_p: float = 0.5
    seed: int = 0
    teacher_labels: str = ""  # teacher_labels.npz: the targets mix in its probabilities
    teacher_weight: float = 0.5


def fold_of(n: int, folds: int, seed: int) -> np.ndarray:
    """Seeded fold index (0..folds-1) of each of ``n`` rows, balanced in size."""
    order = np.random.default_rng(seed).permutation(n)
    fold = np.empty(n, np.int64)
    fold[order] = np.arange(n) % folds
    return fold


ARCHS = ("resnet18", "mobilenet_v3_small", "mobilenet_v3_large")


def build_net(arch: str = "resnet18", num_classes: int = len(EMOTIONS)):
    """A gray-input torchvision network: ResNet-18 with a 3x3 stride-1 stem and no max-pool (for
    48x48 faces), or MobileNetV3 as published with a one-channel stem (for comparisons with the
    shipped model's architecture)."""
    import torch.nn as nn
    import torchvision

    if arch == "resnet18":
        net = torchvision.models.resnet18(num_classes=num_classes)
        net.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
        return net
    if arch in ("mobilenet_v3_small", "mobilenet_v3_large"):
        net = getattr(torchvision.models, arch)(num_classes=num_classes)
        stem = net.features[0][0]
        net.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, 2, 1, bias=False)
        return net
    raise ValueError(f"unknown teacher arch {arch!r}; choose one of {', '.join(ARCHS)}")


def augment(x, cfg: TeacherConfig, gen):
    """Random affine (flip, rotation, scale, shift), brightness/contrast and erasing of ``[B,1,H,W]`` in 0..1."""
    import torch
    import torch.nn.functional as F

    b, dev = x.shape[0], x.device

    def uniform(lo, hi):
        return lo + (hi - lo) * torch.rand(b, device=dev, generator=gen)

    angle = uniform(-1, 1) * math.radians(cfg.rotate_deg)
    scale = uniform(1 - cfg.scale, 1 + cfg.scale)
    flip = torch.where(torch.rand(b, device=dev, generator=gen) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, uniform(-2, 2) * cfg.shift], 1),
                         torch.stack([sin * flip, cos, uniform(-2, 2) * cfg.shift], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), padding_mode="border",
                      align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * uniform(1 - cfg.jitter, 1 + cfg.jitter).view(b, 1, 1, 1) + mean
    x = x + uniform(-cfg.jitter, cfg.jitter).view(b, 1, 1, 1) * 0.5
    h, w = x.shape[-2:]
    area = uniform(0.02, 0.2) * h * w
    ratio = torch.exp(uniform(math.log(0.3), math.log(3.3)))
    eh, ew = (area * ratio).sqrt().clamp(1, h), (area / ratio).sqrt().clamp(1, w)
    y0, x0 = uniform(0, 1) * (h - eh), uniform(0, 1) * (w - ew)
    ys, xs = torch.arange(h, device=dev).view(1, h, 1), torch.arange(w, device=dev).view(1, 1, w)
    box = ((ys >= y0.view(b, 1, 1)) & (ys < (y0 + eh).view(b, 1, 1)) & (xs >= x0.view(b, 1, 1))
           & (xs < (x0 + ew).view(b, 1, 1)))
    box &= (torch.rand(b, device=dev, generator=gen) < cfg.erase_p).view(b, 1, 1)
    noise = torch.rand(x.shape, device=dev, generator=gen)
    return torch.where(box.unsqueeze(1), noise, x).clamp(0, 1)


def normalise(x, size: int = 48):
    """Zero-centred pixels at ``size`` x ``size``."""
    import torch.nn.functional as F

    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x - 0.5) / 0.25


def predict(net, images, size: int = 48, batch: int = 1024) -> np.ndarray:
    """Softmax probabilities averaged over the image and its mirror, ``[N, classes]``."""
    import torch

    net.eval()
    out = []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=images.is_cuda):
        for i in range(0, len(images), batch):
            x = normalise(images[i:i + batch], size)
            p = net(x).float().softmax(1) + net(x.flip(-1)).float().softmax(1)
            out.append((p / 2).cpu())
    net.train()
    return torch.cat(out).numpy() if out else np.zeros((0, len(EMOTIONS)), np.float32)


def train_fold(pack_path: Path, fold: int, cfg: TeacherConfig, out: Path, device: str = "cuda") -> Path:
    """Train fold ``fold``'s teacher; writes ``fold_<k>.npz`` (oof rows and probabilities, val
    probabilities), ``fold_<k>.json`` (history) and ``fold_<k>.pt`` (the final weights, a CPU
    ``state_dict`` for :func:`build_net`) under ``out``."""
    import torch

    torch.manual_seed(cfg.seed + fold)
    torch.backends.cudnn.benchmark = True
    data = unpack(pack_path)
    tr, va = data["train"], data["val"]
    folds = fold_of(len(tr["names"]), cfg.folds, cfg.seed)
    usable = soft_label_rows(tr["votes"])
    if cfg.folds == 1:
        rows, held = np.flatnonzero(usable), np.zeros(0, np.int64)
    else:
        rows, held = np.flatnonzero((folds != fold) & usable), np.flatnonzero(folds == fold)
    targets = FaceSet(tr["images"], tr["votes"], list(tr["names"]), str(pack_path)).soft_targets()
    if cfg.teacher_labels:
        from converters.emotion.teacher.labels import mix_targets, teacher_probabilities

        targets = mix_targets(targets, teacher_probabilities(Path(cfg.teacher_labels), list(tr["names"])),
                              cfg.teacher_weight)

    def to_dev(images):
        return torch.from_numpy(images).to(device).float().div_(255).unsqueeze(1)

    x_all, y = to_dev(tr["images"]), torch.from_numpy(targets.astype(np.float32)).to(device)
    x_val = to_dev(va["images"])
    net = build_net(cfg.arch).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 100 + fold)
    steps_per_epoch = len(rows) // cfg.batch_size
    total, warmup = cfg.max_epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    rows_dev = torch.from_numpy(rows).to(device)
    t0, step, history = time.monotonic(), 0, []
    val_major = majority_labels(va["votes"])
    done = False
    for epoch in range(cfg.max_epochs):
        perm = rows_dev[torch.randperm(len(rows_dev), device=device, generator=gen)]
        losses = []
        for i in range(steps_per_epoch):
            progress = min(1.0, max(step / total, (time.monotonic() - t0) / (60 * cfg.budget_minutes)))
            if progress >= 1.0:
                done = True
                break
            lr = cfg.lr * ((step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * progress)))
            for group in opt.param_groups:
                group["lr"] = lr
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x = normalise(augment(x_all[idx], cfg, gen), cfg.input_size).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                logits = net(x)
            loss = -(y[idx] * logits.float().log_softmax(1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
            step += 1
        if losses:
            entry = {"epoch": epoch + 1, "loss": float(torch.stack(losses).mean()), "lr": lr,
                     "elapsed_s": time.monotonic() - t0}
            if (epoch + 1) % 10 == 0 or done or epoch + 1 == cfg.max_epochs:
                keep = val_major >= 0
                entry["val_acc"] = float((predict(net, x_val, cfg.input_size).argmax(1)[keep]
                                          == val_major[keep]).mean())
            history.append(entry)
            log.info("fold %d %s", fold, entry)
        if done:
            break
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"fold_{fold}.npz", held=held,
             held_probs=predict(net, x_all[torch.from_numpy(held).to(device)], cfg.input_size),
             val_probs=predict(net, x_val, cfg.input_size))
    torch.save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, out / f"fold_{fold}.pt")
    (out / f"fold_{fold}.json").write_text(json.dumps({"fold": fold, "train_rows": int(len(rows)), "steps": step,
                                                       "image_size": int(x_all.shape[-1]),
                                                       "params": sum(p.numel() for p in net.parameters()),
                                                       "elapsed_s": time.monotonic() - t0, "history": history},
                                                      indent=1))
    return out / f"fold_{fold}.npz"


def merge(pack_path: Path, cfg: TeacherConfig, work: Path, labels_path: Path) -> Dict:
    """Join the folds into ``labels_path`` (train names + out-of-fold probabilities) and return the report."""
    data = unpack(pack_path, images=False)
    tr, va = data["train"], data["val"]
    probs = np.full((len(tr["names"]), len(EMOTIONS)), np.nan, np.float32)
    val_probs, folds = [], []
    for k in range(cfg.folds):
        with np.load(work / f"fold_{k}.npz") as z:
            probs[z["held"]] = z["held_probs"]
            val_probs.append(z["val_probs"])
        folds.append(json.loads((work / f"fold_{k}.json").read_text()))
    if np.isnan(probs).any():
        raise RuntimeError(f"{int(np.isnan(probs).any(1).sum())} training faces got no out-of-fold prediction")
    np.savez_compressed(labels_path, names=tr["names"], probs=probs)

    def accuracy(p, votes):
        major = majority_labels(votes)
        keep = major >= 0
        return float((p.argmax(1)[keep] == major[keep]).mean())

    ensemble = np.mean(val_probs, axis=0)
    for f, vp in zip(folds, val_probs):
        f["val_acc"] = accuracy(vp, va["votes"])
    return {"config": asdict(cfg), "val_majority_accuracy_ensemble": accuracy(ensemble, va["votes"]),
            "oof_majority_accuracy_train": accuracy(probs, tr["votes"]),
            "val_faces": int((majority_labels(va["votes"]) >= 0).sum()), "train_faces": int(len(tr["names"])),
            "folds": [{k: v for k, v in f.items() if k != "history"} | {"epochs": len(f["history"])} for f in folds],
            "histories": {f["fold"]: f["history"] for f in folds}}
