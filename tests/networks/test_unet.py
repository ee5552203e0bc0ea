"""Tests for unet3d.networks.unet: the paper's architecture, shapes in 2D/3D, gradients, scripting."""

from __future__ import annotations

import pytest
import torch

from unet3d.networks import UNet


def paper_parameter_count(spatial_dims: int, in_channels: int, out_channels: int, features: list[int]) -> int:
    """Parameters of the paper's layer list (Fig. 1), counted from the list, not from a model."""
    k3, k2 = 3**spatial_dims, 2**spatial_dims
    layers = []  # (kernel volume, c_in, c_out)
    c_in = in_channels
    for f in features:  # contracting path and bottleneck: two 3x3 convolutions per level
        layers += [(k3, c_in, f), (k3, f, f)]
        c_in = f
    for f_low, f in zip(features[::-1], features[::-1][1:], strict=False):  # expanding path
        layers += [(k2, f_low, f_low // 2), (k3, f_low // 2 + f, f), (k3, f, f)]
    layers.append((1, features[0], out_channels))  # final 1x1 convolution
    return sum(k * ci * co + co for k, ci, co in layers)


def test_paper_network_2d_shape_and_layers():
    net = UNet(spatial_dims=2, in_channels=1, out_channels=2, padding="valid").eval()
    with torch.no_grad():
        y = net(torch.randn(1, 1, 572, 572))
    assert y.shape == (1, 2, 388, 388)
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(convs) == 23  # "In total the network has 23 convolutional layers."
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) == 4


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_parameter_count_matches_paper_layer_list(spatial_dims):
    features = [64, 128, 256, 512, 1024] if spatial_dims == 2 else [8, 16, 32, 64]
    net = UNet(spatial_dims=spatial_dims, in_channels=1, out_channels=2, features=features)
    expected = paper_parameter_count(spatial_dims, 1, 2, features)
    assert sum(p.numel() for p in net.parameters()) == expected


def test_valid_3d_shape():
    net = UNet(spatial_dims=3, in_channels=1, out_channels=3, features=(4, 8, 16)).eval()
    size = net.input_size_for_output([8, 8, 8])  # depth 2: 8 + 2 * border
    assert size == [48, 48, 48]
    with torch.no_grad():
        y = net(torch.randn(1, 1, 48, 48, 56))
    assert y.shape == (1, 3, 8, 8, 16)


@pytest.mark.parametrize(
    "spatial_dims, shape, norm",
    [(2, (2, 1, 64, 96), "batch"), (3, (1, 1, 64, 64, 64), "instance"), (3, (1, 2, 16, 32, 48), None)],
)
def test_same_padding_keeps_size(spatial_dims, shape, norm):
    features = (8, 16, 32, 64, 128) if shape[-1] != 48 else (4, 8, 16, 32, 64)
    net = UNet(spatial_dims, in_channels=shape[1], out_channels=3, features=features, padding="same", norm=norm)
    with torch.no_grad():
        y = net.eval()(torch.randn(*shape))
    assert y.shape == (shape[0], 3, *shape[2:])


def test_gradients_reach_first_layer():
    net = UNet(spatial_dims=2, in_channels=1, out_channels=2, features=(4, 8, 16), dropout=0.5)
    x = torch.randn(2, 1, 60, 60)
    net(x).sum().backward()
    first = net.stem.conv_0.conv
    assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0


def test_dropout_sits_after_the_bottleneck():
    net = UNet(spatial_dims=2, features=(4, 8, 16), dropout=0.5)
    assert isinstance(net.dropout, torch.nn.Dropout2d) and net.dropout.p == 0.5


@pytest.mark.parametrize("padding, size", [("valid", 188), ("same", 64)])
def test_torchscript_matches_eager(padding, size):
    net = UNet(spatial_dims=2, features=(4, 8, 16, 32, 64), padding=padding, norm="batch").eval()
    scripted = torch.jit.script(net)
    x = torch.randn(1, 1, size, size)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.parametrize("padding, bad, near", [("valid", 573, "572 and 588"), ("same", 70, "64 and 80")])
def test_bad_size_raises_naming_nearest(padding, bad, near):
    net = UNet(spatial_dims=2, features=(4, 8, 16, 32, 64), padding=padding)
    with pytest.raises(ValueError, match=f"input size {bad}.*{near}"):
        net.output_size([bad, bad])
    with pytest.raises((ValueError, torch.jit.Error), match=f"{near}"):
        net(torch.zeros(1, 1, bad, bad))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="spatial_dims"):
        UNet(spatial_dims=1)
    with pytest.raises(ValueError, match="padding"):
        UNet(padding="reflect")


def test_per_axis_strides_pool_the_thick_slice_axis_less():
    # nnU-Net's pooling for a volume of thick slices along the last axis: in-plane only at the top
    strides = [(2, 2, 1), (2, 2, 2), (2, 2, 2)]
    net = UNet(3, 1, 2, features=(4, 8, 16, 32), padding="same", norm="instance", strides=strides).eval()
    assert net.divisors() == [8, 8, 4]
    pools = [m for m in net.modules() if isinstance(m, torch.nn.MaxPool3d)]
    assert [tuple(p.kernel_size) for p in pools] == strides
    ups = [m for m in net.modules() if isinstance(m, torch.nn.ConvTranspose3d)]
    assert [tuple(u.stride) for u in ups] == strides[::-1]
    x = torch.randn(1, 1, 32, 24, 12)  # the last axis is a multiple of 4, not of 8
    with torch.no_grad():
        y = net(x)
        assert y.shape == (1, 2, 32, 24, 12)
        torch.testing.assert_close(torch.jit.script(net)(x), y)
        from unet3d.inference.frozen import frozen  # the predictor's fast copy keeps the function

        torch.testing.assert_close(frozen(net)(x), y, rtol=1e-4, atol=1e-4)
    with pytest.raises((ValueError, torch.jit.Error), match=r"axis 2 .*pooling it 2 times.*8 and 12"):
        net(torch.zeros(1, 1, 32, 24, 10))
    # uniform strides spelled out build the same network as the default
    plain = UNet(3, 1, 2, features=(4, 8, 16, 32), padding="same", strides=[2, 2, 2])
    assert plain.uniform and plain.divisors() == [8, 8, 8]


def test_bad_strides_are_refused():
    with pytest.raises(ValueError, match="3 levels of 3 factors"):
        UNet(3, features=(4, 8, 16, 32), padding="same", strides=[(2, 2, 1)])
    with pytest.raises(ValueError, match="1 or 2"):
        UNet(3, features=(4, 8), padding="same", strides=[(2, 2, 3)])
    with pytest.raises(ValueError, match="padding='same'"):
        UNet(2, features=(4, 8), padding="valid", strides=[(2, 1)])


def test_per_level_kernels_convolve_in_plane_where_slices_are_unpooled():
    # nnU-Net's kernels for thick slices along the last axis: 3x3x1 at the top level, which does
    # not pool that axis, 3x3x3 below; the decoder's level uses its encoder level's kernel
    strides = [(2, 2, 1), (2, 2, 2), (2, 2, 2)]
    kernels = [(3, 3, 1), (3, 3, 3), (3, 3, 3), (3, 3, 3)]
    net = UNet(3, 1, 2, features=(4, 8, 16, 32), padding="same", norm="instance", strides=strides,
               kernel_sizes=kernels).eval()  # fmt: skip
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv3d) and m.kernel_size != (1, 1, 1)]
    # stem (2), three encoder levels (2 each), three decoder levels (2 each), top level last
    expected = (
        [kernels[0]] * 2 + [k for k in kernels[1:] for _ in range(2)] + [k for k in kernels[2::-1] for _ in (0, 1)]
    )
    assert [tuple(c.kernel_size) for c in convs] == expected
    assert [tuple(c.padding) for c in convs][:2] == [(1, 1, 0)] * 2
    x = torch.randn(1, 1, 32, 24, 12)
    with torch.no_grad():
        y = net(x)
        assert y.shape == (1, 2, 32, 24, 12)
        torch.testing.assert_close(torch.jit.script(net)(x), y)
        from unet3d.inference.frozen import frozen

        torch.testing.assert_close(frozen(net)(x), y, rtol=1e-4, atol=1e-4)
    # a 3x3x1 top level does not mix slices: changing slice 5 leaves the top level's features of
    # its neighbour unchanged, which a 3x3x3 one changes (networks without instance norm, which
    # pools over the whole volume)
    x2 = x.clone()
    x2[..., 5] += 1
    for kernel_sizes, mixes in ((kernels, False), (None, True)):
        stem = UNet(3, 1, 2, features=(4, 8, 16, 32), padding="same", strides=strides, kernel_sizes=kernel_sizes).stem
        with torch.no_grad():
            assert (not torch.allclose(stem(x)[..., 6], stem(x2)[..., 6])) == mixes
    # 3 everywhere spelled out builds the default network (same parameter shapes)
    default = UNet(3, 1, 2, features=(4, 8, 16, 32), padding="same", strides=strides)
    spelled = UNet(3, 1, 2, features=(4, 8, 16, 32), padding="same", strides=strides, kernel_sizes=[3, 3, 3, 3])
    assert {k: v.shape for k, v in default.state_dict().items()} == {
        k: v.shape for k, v in spelled.state_dict().items()
    }


def test_bad_kernel_sizes_are_refused():
    with pytest.raises(ValueError, match="4 levels of 3 sizes"):
        UNet(3, features=(4, 8, 16, 32), padding="same", kernel_sizes=[(3, 3, 1), 3, 3])
    with pytest.raises(ValueError, match="1 or 3"):
        UNet(2, features=(4, 8), padding="same", kernel_sizes=[(3, 5), 3])
    with pytest.raises(ValueError, match="padding='same'"):
        UNet(2, features=(4, 8), padding="valid", kernel_sizes=[(3, 1), 3])
