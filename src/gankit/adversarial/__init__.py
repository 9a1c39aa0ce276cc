"""Adversarial images: gradient attacks, AdvGAN, adversarial training and Defense-GAN."""

from gankit.adversarial.advgan import AdvGAN, AdvGANConfig, load_advgan, margin_loss, train_advgan
from gankit.adversarial.api import (
    ATTACKS,
    AttackReport,
    AttackSpec,
    attack_images,
    measure_attack,
    run_attack,
)
from gankit.adversarial.attacks import NORMS, Budget, PGDConfig, fgsm, pgd
from gankit.adversarial.defend import (
    DefenseResult,
    Projection,
    PurifiedClassifier,
    project,
    run_defense,
)
from gankit.adversarial.harden import HARDENING, harden, make_adversary

__all__ = ["ATTACKS", "HARDENING", "NORMS", "AdvGAN", "AdvGANConfig", "AttackReport",
           "AttackSpec", "Budget", "DefenseResult", "PGDConfig", "Projection",
           "PurifiedClassifier", "run_defense",
           "attack_images", "fgsm", "harden", "load_advgan", "make_adversary", "margin_loss",
           "measure_attack", "pgd", "project", "run_attack", "train_advgan"]
