"""Networks: the dimension-generic U-Net and its size arithmetic."""

from unet3d.networks.sizes import divisors, input_size_for_output, nearest_valid_sizes, output_size
from unet3d.networks.unet import UNet

__all__ = ["UNet", "divisors", "input_size_for_output", "nearest_valid_sizes", "output_size"]
