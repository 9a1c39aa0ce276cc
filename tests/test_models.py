import pytest
import torch

from gankit.errors import GankitError
from gankit.models import MODELS, build_gan

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8)]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("shape", SHAPES)
def test_every_model_builds_with_right_shapes(model, shape):
    G, D = build_gan(model, shape, width=16 if model != "mlp" else None)
    z = torch.randn(5, 100)
    images = G(z)
    assert images.shape == (5, *shape)
    assert images.min() >= -1 and images.max() <= 1
    assert D(images).shape == (5,)


@pytest.mark.parametrize("model", list(MODELS))
def test_conditional_variants_use_their_labels(model):
    torch.manual_seed(0)
    G, D = build_gan(model, (1, 28, 28), num_classes=10, width=16 if model != "mlp" else None)
    G.eval(), D.eval()
    z = torch.randn(4, 100).repeat(2, 1)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    images = G(z, labels)
    assert not torch.allclose(images[:4], images[4:])  # same z, other class, other image
    x = images[:4].repeat(2, 1, 1, 1)
    logits = D(x, labels)
    assert logits.shape == (8,)
    assert not torch.allclose(logits[:4], logits[4:])
    with pytest.raises(ValueError, match="conditional"):
        G(z)


def test_mlp_is_the_original_gan_architecture():
    G, D = build_gan("mlp", (1, 28, 28))
    linear = [m for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(100, 128), (128, 128),
                                                                 (128, 784)]
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in G.modules())
    assert isinstance(G.body[-2], torch.nn.Tanh)


@pytest.mark.parametrize("model", ["dcgan", "sndcgan", "resnet", "r3gan"])
def test_unsupported_size_names_the_sizes_it_can_do(model):
    with pytest.raises(GankitError, match=r"cannot make 27x27 .*28, 32"):
        build_gan(model, (1, 27, 27))
    with pytest.raises(GankitError, match="square"):
        build_gan(model, (1, 28, 32))


def test_unknown_model_lists_choices():
    with pytest.raises(GankitError, match="unknown model 'stylegan'; choose one of: mlp, dcgan"):
        build_gan("stylegan", (1, 28, 28))


@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_projection_term_does_not_swamp_the_logit_at_init(model):
    x = torch.rand(64, 1, 28, 28) * 2 - 1
    torch.manual_seed(0)
    _, plain = build_gan(model, (1, 28, 28))
    torch.manual_seed(0)
    _, conditional = build_gan(model, (1, 28, 28), num_classes=10)
    scale = plain(x).abs().max()
    assert conditional(x, torch.arange(64) % 10).abs().max() < 2 * scale


def test_sndcgan_discriminator_layers_are_1_lipschitz_without_batch_norm():
    _, D = build_gan("sndcgan", (1, 28, 28), width=8)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    layers = [m for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 3  # two convolutions and the head
    D.train()
    for _ in range(30):  # the power iteration converges over training-mode passes
        D(torch.randn(4, 1, 28, 28))
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.02)
        raw = layer.parametrizations.weight.original.detach().flatten(1)
        assert torch.linalg.matrix_norm(raw, ord=2) != pytest.approx(1.0, abs=0.02)


def test_r3gan_nets_have_no_normalisation_and_start_as_identity_residuals():
    from gankit.models.r3gan import _Block

    G, D = build_gan("r3gan", (1, 28, 28), width=32)
    norms = (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm,
             torch.nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in [*G.modules(), *D.modules()])
    blocks = [m for m in G.modules() if isinstance(m, _Block)]
    assert len(blocks) == 3 and all(b.grouped.groups == 4 for b in blocks)  # 64 / 16
    x = torch.randn(2, 32, 7, 7)
    assert torch.equal(blocks[0](x), x)  # fix-up: the branch's last conv starts at zero
    assert D.blocks[-1].groups == 32 and D.blocks[-1].kernel_size == (7, 7)


def test_r3gan_generator_passes_gradient_where_a_tanh_would_have_saturated():
    from gankit.sampling import sample

    torch.manual_seed(0)
    G, _ = build_gan("r3gan", (3, 28, 28), width=16)
    out = G.body[-1]
    with torch.no_grad():
        out.bias.fill_(-9.0)  # where a tanh's slope is ~1e-7 (StackedMNIST's black drift)
    G(torch.randn(8, 100)).sum().backward()
    assert out.weight.grad.abs().mean() > 1e-2
    drawn = sample(G, 8)
    assert drawn.min() == -1.0 and drawn.max() <= 1.0  # clamped to the data range


def test_r3gan_code_weight_is_the_first_layers_linear_map():
    torch.manual_seed(0)
    G, _ = build_gan("r3gan", (1, 28, 28), z_dim=6, width=16)
    jacobian = torch.autograd.functional.jacobian(lambda z: G.body[0](z[None]).flatten(),
                                                  torch.zeros(6))
    weight = G.code_weight()  # (channels, z): the same Gram matrix, so SeFa's directions
    assert torch.allclose(weight.T @ weight, jacobian.T @ jacobian, atol=1e-4)


def test_minibatch_std_channel_is_the_spread_of_each_group():
    _, D = build_gan("dcgan-mbstd", (1, 28, 28), width=8)
    D.eval()
    x = torch.rand(8, 1, 28, 28) * 2 - 1
    maps = D.body(x)  # (8, 16, 7, 7)
    features = D.features(x).reshape(8, 17, 7, 7)
    assert torch.equal(features[:, :16], maps)
    # groups of four strided over the batch: images 0, 2, 4, 6 and 1, 3, 5, 7
    for member in range(2):
        expected = maps[member::2].std(dim=0, unbiased=False).mean()
        assert torch.allclose(features[member::2, 16], expected.expand(4, 7, 7), atol=1e-4)
    same = D.features(x[:1].expand(8, 1, 28, 28)).reshape(8, 17, 7, 7)
    assert same[:, 16].max() < 1e-3  # no variety, no spread
    assert D(torch.rand(6, 1, 28, 28)).shape == (6,)  # 6 is not a multiple of 4: one group
    _, conditional = build_gan("dcgan-mbstd", (1, 28, 28), width=8, num_classes=10)
    assert conditional(x, torch.arange(8)).shape == (8,)
