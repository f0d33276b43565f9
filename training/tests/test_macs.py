import torch
import torch.nn as nn

from training.macs import count_macs


def test_rules_on_a_hand_computed_stack():
    # input 1 x 2 x 8 x 8
    m = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),  # 3*3*2*4*64 = 4608 + bias 4*64 = 256
        nn.BatchNorm2d(4),  # 2 * 4*64 = 512
        nn.ReLU(),  # 256
        nn.MaxPool2d(2),  # input elements 256
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),  # output 256
        nn.ConvTranspose2d(4, 3, 2, stride=2, bias=False),  # 2*2*4*3 * input pixels 64 = 3072
    )
    r = count_macs(m, [torch.zeros(2, 2, 8, 8)])  # batch 2: counts are per sample
    assert r["Conv2d"] == 4608 + 256
    assert r["BatchNorm2d"] == 512
    assert r["ReLU"] == 256
    assert r["MaxPool2d"] == 256
    assert r["Upsample"] == 256
    assert r["ConvTranspose2d"] == 3072
    assert r["total"] == 4864 + 512 + 256 + 256 + 256 + 3072
