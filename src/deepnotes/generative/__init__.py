"""Generative models on the bundled digits: GAN/WGAN/WGAN-GP/LSGAN/hinge/CycleGAN losses, the Inception
Score and the Frechet distance, small DCGAN networks, a digits classifier for digits-specific IS/FID, and
the training loops behind ``deepnotes gan train`` and ``deepnotes gan cycle``."""

from .classifier import DigitsClassifier, load_digits_classifier, train_digits_classifier
from .cycle import train_cyclegan
from .losses import (
    GAN_LOSSES,
    clip_weights_,
    cycle_consistency_loss,
    cyclegan_generator_loss,
    gan_discriminator_loss,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    identity_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from .metrics import fid_from_features, frechet_distance, gaussian_stats, inception_score, trace_sqrt_product
from .models import DCGANDiscriminator, DCGANGenerator, TranslationGenerator
from .training import GANConfig, default_config, train_gan
