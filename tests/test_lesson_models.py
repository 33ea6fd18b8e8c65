"""The lesson's nn.Modules: its worked example, their initialisation, and that they compute the sheet's algebra."""
import torch

from collabsheet.engine.models import factorization
from collabsheet.engine.models.lesson import DotProduct, EmbeddingDot, EmbeddingDotBias, EmbeddingDotBiasImplicit, EmbeddingNet


def test_dot_product_gives_the_lessons_numbers() -> None:
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    b = torch.tensor([[2.0, 2.0], [10.0, 10.0]])
    assert DotProduct()(a, b).tolist() == [6.0, 70.0]


def test_embedding_dot_initialises_uniform_0_to_005_and_predicts_the_dot_product() -> None:
    torch.manual_seed(0)
    model = EmbeddingDot(7, 9, n_factors=4)
    for e in (model.u.weight, model.m.weight):
        assert e.shape[1] == 4 and 0 <= e.min() and e.max() < 0.05
    users, movies = torch.tensor([0, 6, 3]), torch.tensor([8, 0, 3])
    expected = (model.u.weight[users] * model.m.weight[movies]).sum(1)
    torch.testing.assert_close(model(users, movies), expected)


def test_embedding_dot_bias_adds_biases_and_squashes_into_the_range() -> None:
    torch.manual_seed(1)
    model = EmbeddingDotBias(5, 6, n_factors=3, y_range=(1.0, 5.0))
    assert model.ub.weight.abs().max() <= 0.01 and model.mb.weight.abs().max() <= 0.01
    with torch.no_grad():  # make the raw values large enough that squashing matters
        model.u.weight.normal_(0, 2)
        model.m.weight.normal_(0, 2)
    users, movies = torch.arange(5), torch.tensor([5, 4, 3, 2, 1])
    raw = (model.u.weight[users] * model.m.weight[movies]).sum(1)
    raw = raw + model.ub.weight[users, 0] + model.mb.weight[movies, 0]
    torch.testing.assert_close(model(users, movies), torch.sigmoid(raw) * (5 - 1) + 1)
    unsquashed = EmbeddingDotBias(5, 6, n_factors=3)
    unsquashed.load_state_dict(model.state_dict())
    torch.testing.assert_close(unsquashed(users, movies), raw)


def test_the_module_and_the_sheet_share_one_formula() -> None:
    """The same factors give the same prediction as the sheet's whole-grid formula, cell for cell."""
    torch.manual_seed(2)
    model = EmbeddingDotBias(4, 5, n_factors=3, y_range=(0.0, 5.5))
    u, m = model.u.weight.detach(), model.m.weight.detach()
    ub, mb = model.ub.weight.detach()[:, 0], model.mb.weight.detach()[:, 0]
    sheet, _ = factorization.squash(factorization.grid(u, m.T, ub, mb), (0.0, 5.5))
    users, movies = torch.meshgrid(torch.arange(4), torch.arange(5), indexing="ij")
    torch.testing.assert_close(model(users.flatten(), movies.flatten()).reshape(4, 5), sheet)


def test_embedding_net_spans_half_a_star_beyond_the_ratings_and_has_settable_sizes() -> None:
    torch.manual_seed(3)
    model = EmbeddingNet(10, 12, n_factors=6, y_range=(1.0, 5.0), nh=7, p1=0.2, p2=0.3)
    assert model.lin1.in_features == 12 and model.lin1.out_features == 7 and model.lin2.in_features == 7
    assert (model.drop1.p, model.drop2.p) == (0.2, 0.3)
    with torch.no_grad():
        model.lin2.bias.fill_(50.0)
    model.eval()
    users, movies = torch.arange(10), torch.arange(10)
    torch.testing.assert_close(model(users, movies), torch.full((10,), 5.5))
    with torch.no_grad():
        model.lin2.bias.fill_(-50.0)
    torch.testing.assert_close(model(users, movies), torch.full((10,), 0.5))


def test_embedding_net_uses_dropout_only_while_training() -> None:
    torch.manual_seed(4)
    model = EmbeddingNet(10, 12, n_factors=6)
    users, movies = torch.arange(10), torch.arange(10)
    model.eval()
    assert torch.equal(model(users, movies), model(users, movies))
    model.train()
    assert not torch.equal(model(users, movies), model(users, movies))


def test_lesson_defaults() -> None:
    net = EmbeddingNet(3, 3)
    assert (net.lin1.out_features, net.drop1.p, net.drop2.p, net.u.weight.shape[1]) == (10, 0.5, 0.5, 50)
    assert EmbeddingDotBias(3, 3).y_range is None


def test_implicit_model_adds_the_scaled_sum_of_the_rated_movies_factors() -> None:
    torch.manual_seed(5)
    rated_users, rated_movies = torch.tensor([2, 0, 2, 2, 1]), torch.tensor([1, 3, 0, 3, 3])
    model = EmbeddingDotBiasImplicit(4, 5, 3, (0.0, 5.5), rated_users, rated_movies)
    y = model.y.weight.detach()
    expected = torch.stack([y[3], y[3], (y[1] + y[0] + y[3]) / 3**0.5, torch.zeros(3)])  # user 3 rated nothing
    torch.testing.assert_close(model.implicit(), expected)
    plain = EmbeddingDotBias(4, 5, 3, (0.0, 5.5))
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if k in plain.state_dict()})
    users, movies = torch.tensor([0, 2, 3]), torch.tensor([4, 2, 1])
    with torch.no_grad():
        model.y.weight.zero_()  # with no implicit factors it is EmbeddingDotBias
    torch.testing.assert_close(model(users, movies), plain(users, movies))


def test_embedding_dot_bias_starts_every_embedding_as_get_emb() -> None:
    """get_emb: uniform(−0.01, 0.01) for the factors and the biases alike (EmbeddingDot keeps 0..0.05)."""
    torch.manual_seed(3)
    model = EmbeddingDotBias(300, 400, n_factors=20)
    for e in (model.u.weight, model.m.weight, model.ub.weight, model.mb.weight):
        assert e.abs().max() <= 0.01
    assert model.u.weight.min() < -0.009 and model.m.weight.min() < -0.009  # both signs, the whole range


def test_the_lesson_net_recipe_says_which_dropout_the_notes_use() -> None:
    from collabsheet.engine.train.recipes import recipe

    net = recipe("lesson-net")
    assert (net.p1, net.p2) == (0.5, 0.5) and "p1 = p2 = 0.5" in net.about
    assert "lr/100" in recipe("lesson-learner").about and recipe("lesson-learner").warmup
