"""Losses over the age distribution: Gaussian targets for exact ages, bin mass for intervals."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from howold.train.losses import (  # noqa: E402
    NUM_AGES,
    age_loss,
    bin_nll,
    expected_age,
    gaussian_kl,
    gaussian_targets,
)


@pytest.mark.parametrize("age", [0, 1, 34, 99, 100])
@pytest.mark.parametrize("sigma", [0.5, 2.0, 5.0])
def test_gaussian_target_is_normalised_and_centred(age, sigma):
    target = gaussian_targets(torch.tensor([age]), sigma)[0]
    assert target.shape == (NUM_AGES,)
    assert target.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert (target >= 0).all() and target.argmax().item() == age
    if 10 <= age <= 90:
        ages = torch.arange(NUM_AGES, dtype=torch.float32)
        assert (target @ ages).item() == pytest.approx(age, abs=1e-3)


def test_gaussian_kl_is_zero_at_the_target_and_positive_elsewhere():
    age = torch.tensor([30, 60])
    perfect = gaussian_targets(age, 2.0).log()
    assert gaussian_kl(perfect, age, 2.0).abs().max().item() < 1e-5
    assert (gaussian_kl(torch.zeros(2, NUM_AGES), age, 2.0) > 0.5).all()


def test_bin_loss_is_minimised_by_mass_inside_the_bin():
    low, high = torch.tensor([20]), torch.tensor([29])
    inside = torch.full((1, NUM_AGES), -10.0)
    inside[0, 20:30] = 10.0
    outside = torch.full((1, NUM_AGES), -10.0)
    outside[0, 40:50] = 10.0
    uniform = torch.zeros(1, NUM_AGES)
    assert bin_nll(inside, low, high).item() < 1e-6
    assert bin_nll(inside, low, high) < bin_nll(uniform, low, high) < bin_nll(outside, low, high)
    # how the mass is spread inside the bin does not matter
    peaked = torch.full((1, NUM_AGES), -10.0)
    peaked[0, 25] = 10.0
    assert bin_nll(peaked, low, high).item() == pytest.approx(bin_nll(inside, low, high).item(), abs=1e-6)


def test_bin_loss_gradient_moves_mass_into_the_bin():
    logits = torch.zeros(1, NUM_AGES, requires_grad=True)
    bin_nll(logits, torch.tensor([70]), torch.tensor([100])).sum().backward()
    assert (logits.grad[0, 70:] < 0).all() and (logits.grad[0, :70] > 0).all()


def test_age_loss_mixes_exact_ages_and_bins():
    logits = torch.randn(3, NUM_AGES)
    low, high = torch.tensor([30, 20, 5]), torch.tensor([30, 29, 5])
    expected = torch.stack(
        [
            gaussian_kl(logits[:1], low[:1], 2.0)[0],
            bin_nll(logits[1:2], low[1:2], high[1:2])[0],
            gaussian_kl(logits[2:], low[2:], 2.0)[0],
        ]
    ).mean()
    assert age_loss(logits, low, high, 2.0).item() == pytest.approx(expected.item(), rel=1e-5)


def test_expected_age_is_the_mean():
    logits = torch.full((1, NUM_AGES), -1e4)
    logits[0, 40] = logits[0, 50] = 0.0
    assert expected_age(logits).item() == pytest.approx(45.0)


def test_l1_term_adds_the_mean_age_error_for_exact_ages_only():
    logits = torch.randn(3, NUM_AGES)
    low, high = torch.tensor([20, 40, 10]), torch.tensor([20, 40, 19])
    plain = age_loss(logits, low, high, 2.0)
    with_l1 = age_loss(logits, low, high, 2.0, l1_weight=0.5)
    error = (expected_age(logits)[:2] - low[:2].float()).abs().sum() / 3
    assert with_l1.item() == pytest.approx(plain.item() + 0.5 * error.item(), rel=1e-5)


def test_teacher_target_mixes_with_the_gaussian_for_rows_that_have_one():
    logits = torch.randn(3, NUM_AGES)
    low = high = torch.tensor([20, 40, 60])
    teacher = torch.softmax(torch.randn(3, NUM_AGES), dim=1)
    has_teacher = torch.tensor([True, True, False])
    mixed = age_loss(logits, low, high, 2.0, 0.0, teacher, has_teacher, teacher_weight=0.25)
    log_p = torch.log_softmax(logits, dim=1)
    target = 0.25 * teacher + 0.75 * gaussian_targets(low, 2.0)
    target[2] = gaussian_targets(low[2:], 2.0)[0]
    expected = (target * (target.log() - log_p)).sum(dim=1).mean()
    assert mixed.item() == pytest.approx(expected.item(), rel=1e-5)
    assert age_loss(logits, low, high, 2.0, 0.0, teacher, has_teacher, teacher_weight=0.0).item() == pytest.approx(
        age_loss(logits, low, high, 2.0).item(), rel=1e-6
    )


def test_teacher_target_is_the_minimum_of_the_distillation_loss():
    low = high = torch.tensor([30])
    teacher = torch.softmax(torch.randn(1, NUM_AGES), dim=1)
    target = 0.5 * teacher + 0.5 * gaussian_targets(low, 2.0)
    at_target = age_loss(target.log(), low, high, 2.0, 0.0, teacher, torch.tensor([True]), teacher_weight=0.5)
    at_label = age_loss(
        gaussian_targets(low, 2.0).log(), low, high, 2.0, 0.0, teacher, torch.tensor([True]), teacher_weight=0.5
    )
    assert at_target.item() == pytest.approx(0.0, abs=1e-5) and at_label.item() > 0.01
