"""Image completion: masks, classical baselines and GAN-based completion."""

from gankit.inpaint.baselines import biharmonic, mean_fill, paste, telea, telea_available
from gankit.inpaint.latent import LatentSearch, complete_latent, importance_weights
from gankit.inpaint.masks import MASK_KINDS, check_masks, make_masks, read_mask

__all__ = ["MASK_KINDS", "LatentSearch", "biharmonic", "check_masks", "complete_latent",
           "importance_weights", "make_masks", "mean_fill", "paste", "read_mask", "telea",
           "telea_available"]
