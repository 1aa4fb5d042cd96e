import pytest
import torch
import torch.nn.functional as F
from llmnotes import setup
from llmnotes.models.mamba import Mamba, MambaConfig


@pytest.fixture(autouse=True)
def _seed():
    setup(0)


def test_logits_have_one_row_per_position_and_the_head_is_tied():
    model = Mamba(MambaConfig(vocab_size=11, n_layer=2, d_model=16, d_state=4))
    assert model(torch.randint(0, 11, (3, 7))).shape == (3, 7, 11)
    assert model.head.weight is model.tok_emb.weight


def test_loss_scores_only_targets_that_are_not_minus_100():
    model = Mamba(MambaConfig(vocab_size=11, n_layer=1, d_model=16, d_state=4))
    ids = torch.randint(0, 11, (2, 6))
    targets = torch.full_like(ids, -100)
    targets[:, -2:] = ids[:, :2]
    logits, loss = model(ids, targets)
    torch.testing.assert_close(loss, F.cross_entropy(logits[:, -2:].reshape(-1, 11), ids[:, :2].reshape(-1)))


def test_bad_configs_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="MambaConfig.ssm"):
        MambaConfig(vocab_size=11, ssm="attention")
    with pytest.raises(ValueError, match="MambaConfig.d_state"):
        MambaConfig(vocab_size=11, d_state=0)
    with pytest.raises(ValueError, match="idx must be in"):
        Mamba(MambaConfig(vocab_size=11, d_model=16, d_state=4))(torch.tensor([[3, 11]]))
