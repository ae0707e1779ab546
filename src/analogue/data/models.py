"""Small model builders for demos, tests and benchmarks (no downloads, no torchvision).

``resnet18_like`` reproduces the layer shapes of torchvision's ResNet-18 (He et al., CVPR 2016:
7x7/2 stem, four stages of two basic blocks with 64/128/256/512 channels, 11.7 M parameters at
1000 classes) so compile and cost results can be compared with published ResNet-18 figures.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=False)
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class ResNet(nn.Module):
    """A ResNet of basic blocks; ``stem="imagenet"`` uses the 7x7/2 conv + max pool."""

    def __init__(
        self,
        blocks: tuple[int, ...],
        widths: tuple[int, ...],
        num_classes: int = 10,
        in_channels: int = 3,
        stem: str = "imagenet",
    ) -> None:
        super().__init__()
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"ResNet.stem must be 'imagenet' or 'cifar', got {stem!r}")
        w0 = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, w0, 7, 2, 3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(in_channels, w0, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(w0)
        self.relu = nn.ReLU(inplace=False)
        layers = []
        c = w0
        for i, (n, w) in enumerate(zip(blocks, widths)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(c, w, stride)] + [BasicBlock(w, w) for _ in range(n - 1)]
            layers.append(nn.Sequential(*stage))
            c = w
        self.layer1, self.layer2, self.layer3, self.layer4 = (
            layers + [nn.Identity()] * (4 - len(layers))
        )[:4]
        if len(layers) > 4:
            raise ValueError("ResNet supports at most four stages")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18_like(num_classes: int = 1000, in_channels: int = 3) -> ResNet:
    """ResNet-18 layer shapes (11.69 M parameters at 1000 classes), randomly initialised."""
    return ResNet((2, 2, 2, 2), (64, 128, 256, 512), num_classes, in_channels, stem="imagenet")


def small_resnet(num_classes: int = 10, in_channels: int = 3, width: int = 16) -> ResNet:
    """A three-stage CIFAR-style ResNet (one block per stage) for fast tests."""
    return ResNet((1, 1, 1), (width, 2 * width, 4 * width), num_classes, in_channels, stem="cifar")


def mlp(
    sizes: tuple[int, ...] = (784, 256, 128, 10), activation: type[nn.Module] = nn.ReLU
) -> nn.Sequential:
    """Fully connected ``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between layers."""
    if len(sizes) < 2:
        raise ValueError(f"mlp.sizes needs at least two entries, got {sizes!r}")
    mods: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(activation())
    return nn.Sequential(*mods)


def tiny_transformer_encoder(
    vocab_size: int = 1000,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int = 128,
    max_positions: int = 128,
    attn_implementation: str | None = None,
) -> nn.Module:
    """A small Hugging Face ``BertModel`` built from a config (random weights, no download).

    ``attn_implementation``: ``"eager"`` (explicit matmul/softmax) or ``"sdpa"`` (fused kernel);
    ``None`` takes the transformers default. Requires the ``transformers`` package (a test extra).
    """
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_positions,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **({"attn_implementation": attn_implementation} if attn_implementation else {}),
    )
    return BertModel(cfg, add_pooling_layer=True).eval()
