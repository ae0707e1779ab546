"""Run by tests/integrations/test_ddp.py under ``torchrun --nproc_per_node 2`` (gloo, CPU).

Trains a small analog MLP with Lightning's DDP strategy and ``AnalogCallback`` (weight noise,
clipping), once with ``noise_streams="shared"`` and once with ``"per_rank"``; rank 0 gathers
every rank's weights and, for the oracle, trains the same model in this one process on the
global batch with the recipe in a plain loop. Writes ``{mode: {"max_rank_diff", "max_diff_single",
"moved"}}`` as JSON to ``argv[1]``.
"""

from __future__ import annotations

import json
import os
import sys
import warnings

import lightning.pytorch as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

import analogue as an
from analogue.integrations.lightning import AnalogCallback
from analogue.integrations.recipe import HWARecipe
from analogue.train import HWAOptions

B, STEPS, LR = 16, 4, 0.2
HWA = HWAOptions(weight_noise_rel=0.05, clip_weights_sigma=2.5)


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2 * B * STEPS, 16, generator=g)
    return x, (x[:, 0] > 0).long()


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))


class Net(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = net()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=LR)


def flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in module.parameters()])


def single_process(mode: str) -> torch.Tensor:
    """The oracle: one process, the global batch (both ranks' samples), the same recipe."""
    model = net()
    recipe = HWARecipe(an.presets.ideal(), HWA, noise_streams=mode)
    recipe.setup(model)
    recipe.epoch_start(model, 0, 0)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    x, y = data()
    model.train()
    for i in range(STEPS):
        idx = torch.arange(2 * B * i, 2 * B * (i + 1))  # DistributedSampler: rank r takes r, r + 2, ...
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        recipe.after_step(model)
    return flat(model)


def main(out: str) -> None:
    results = {}
    for mode in ("shared", "per_rank"):
        x, y = data()
        ds = torch.utils.data.TensorDataset(x, y)
        # rank r takes samples r, r + 2, ...: the global batch of step i is samples [2 B i, 2 B (i + 1))
        sampler = torch.utils.data.DistributedSampler(ds, num_replicas=2, rank=int(os.environ["RANK"]), shuffle=False)
        loader = torch.utils.data.DataLoader(ds, batch_size=B, sampler=sampler)
        model = Net()
        start = flat(model.net)
        trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                            callbacks=[AnalogCallback(an.presets.ideal(), HWA, noise_streams=mode)],
                            use_distributed_sampler=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(model, loader)
        w = flat(model.net)
        gathered = [torch.empty_like(w) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, w)
        if dist.get_rank() == 0:
            results[mode] = {"max_rank_diff": float((gathered[0] - gathered[1]).abs().max()),
                             "max_diff_single": float((w - single_process(mode)).abs().max()),
                             "moved": float((w - start).abs().max()),
                             "steps": trainer.global_step}
    if dist.get_rank() == 0:
        with open(out, "w") as fh:
            json.dump(results, fh)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    # leave without the interpreter's teardown: a worker thread of the gloo/Lightning stack that is
    # still alive then aborts the process now and then ("terminate called without an active
    # exception") after all the work is done and written
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
