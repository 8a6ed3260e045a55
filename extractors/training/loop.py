"""The one fine-tuning loop of the MiniLM models (the marker relation classifier and the token tagger).

A model gives it its network, its training items (anything with .ids, batched by length) and
three functions: the loss of a batch, the dev score after an epoch, and (optionally) fresh
training items for each epoch. The loop does the rest the same way for every model: seeding,
AdamW with the encoder and head learning-rate groups and the warm-up/decay schedule, the epoch
loop with its progress bar, the best-epoch snapshot and its restore, and the fp16 rounding of
what ships.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from extractors.encoder.artifacts import round_to_fp16_
from extractors.encoder.base import WORD_EMB_KEY, resolve_device


@dataclass
class LoopSettings:
    """The optimisation settings every model shares (the trainers' keyword arguments of the same names)."""

    epochs: int = 20
    lr: float = 1e-4  # the encoder's
    head_lr: float = 1e-3  # everything else: markers, feature embeddings, the head
    batch_size: int = 16
    seed: int = 13  # initial weights and dropout
    data_seed: int | None = None  # batch order (None: seed)
    device: str = "cpu"
    warmup: float = 0.1  # fraction of steps with linear warm-up
    weight_decay: float = 0.01
    max_steps: int | None = None
    progress: bool = True


@dataclass
class DevScore:
    """A model's dev score after an epoch."""

    f1: float  # picks the best epoch
    fields: dict  # added to the epoch's history record
    note: str  # added to the epoch's log line


@dataclass
class LoopResult:
    history: list[dict]  # per epoch: epoch, loss, seconds and the dev fields
    losses: list[float]  # per optimiser step
    steps: int
    best_epoch: int | None  # None without a dev score
    last_items: int  # training items of the last epoch (augmentation may change their number)


def seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def optimizer_and_schedule(net, lr: float, head_lr: float, weight_decay: float, warmup: float, total_steps: int):
    """AdamW with the encoder at lr and everything else (markers, features, head) at head_lr;
    linear warm-up over the first `warmup` fraction of steps, then linear decay to 0."""
    import torch

    enc_params = [p for n, p in net.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    head_params = [p for n, p in net.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": lr}, {"params": head_params, "lr": head_lr}],
                            weight_decay=weight_decay)
    n_warm = max(1, int(warmup * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / n_warm, max(0.0, (total_steps - s) / max(1, total_steps - n_warm))))
    return opt, sched


def shuffled_batches(items: list, batch_size: int, rng: random.Random) -> list[list]:
    """Shuffled training batches of similar length (items with .ids, sorted inside pools of 50 batches)."""
    order = list(range(len(items)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for k in range(0, len(order), pool):
        chunk = sorted(order[k: k + pool], key=lambda i: len(items[i].ids))
        batches += [[items[i] for i in chunk[j: j + batch_size]] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


@dataclass
class TrainingLoop:
    """Create it before the model is built: it resolves the device and seeds torch, numpy and
    random (so the model's initial weights and dropout follow `seed`), and keeps the generator
    of the batch order (`data_seed`)."""

    settings: LoopSettings
    device: str = field(init=False)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.device = resolve_device(s.device)
        seed_all(s.seed)
        self.rng = random.Random(s.seed if s.data_seed is None else s.data_seed)

    def steps_per_epoch(self, n_items: int) -> int:
        return math.ceil(n_items / self.settings.batch_size)

    def run(self, net, items: list, batch_loss: Callable, *, dev_score: Callable[[], DevScore] | None = None,
            epoch_items: Callable[[random.Random], list] | None = None,
            log: Callable[[str], None] = print) -> LoopResult:
        """Train net on items; batch_loss(batch) is a batch's mean loss (a scalar tensor).

        dev_score: called after each epoch (net in eval mode); the best epoch's weights are
        restored at the end. Without it the last epoch is kept. epoch_items(rng): the training
        items of each epoch, made anew (e.g. with augmentation); the first epoch's step count
        comes from `items`. The trained weights are rounded to fp16, as they ship; net ends in
        eval mode."""
        import torch
        from tqdm import tqdm

        s = self.settings
        steps_per_epoch = self.steps_per_epoch(len(items))
        opt, sched = optimizer_and_schedule(net, s.lr, s.head_lr, s.weight_decay, s.warmup,
                                            steps_per_epoch * s.epochs if s.max_steps is None
                                            else min(s.max_steps, steps_per_epoch * s.epochs))
        history: list[dict] = []
        losses: list[float] = []
        best_f1, best_state, best_epoch = -1.0, None, 0
        step = 0
        t0 = time.time()
        for epoch in range(1, s.epochs + 1):
            net.train()
            if epoch_items is not None:
                items = epoch_items(self.rng)
            bar = tqdm(shuffled_batches(items, s.batch_size, self.rng), desc=f"epoch {epoch}/{s.epochs}",
                       disable=not s.progress, mininterval=2.0, leave=False)
            ep_loss = []
            for batch in bar:
                loss = batch_loss(batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
                opt.step()
                sched.step()
                step += 1
                ep_loss.append(loss.item())
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(ep_loss[-20:]):.4f}")
                if s.max_steps is not None and step >= s.max_steps:
                    break
            rec = {"epoch": epoch, "loss": float(np.mean(ep_loss)), "seconds": round(time.time() - t0, 1)}
            note = ""
            if dev_score is not None:
                net.eval()
                score = dev_score()
                rec.update(score.fields)
                note = score.note
                if score.f1 > best_f1:
                    best_f1, best_epoch = score.f1, epoch
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items() if k != WORD_EMB_KEY}
            history.append(rec)
            log(f"epoch {epoch}: loss {rec['loss']:.4f}{note} ({rec['seconds']:.0f}s)")
            if s.max_steps is not None and step >= s.max_steps:
                break
        if dev_score is not None:
            net.load_state_dict(best_state, strict=False)
        net.eval()
        round_to_fp16_(net)
        return LoopResult(history, losses, step, best_epoch if dev_score is not None else None, len(items))
