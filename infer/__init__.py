"""What ships: the network, photo loading and preprocessing, parcel pooling and the verdict."""

from infer.inspector import Inspector, NoReadablePhotos
from infer.photos import PhotoError, load_photo
from infer.verdict import ParcelVerdict, PhotoResult

__all__ = ["Inspector", "NoReadablePhotos", "ParcelVerdict", "PhotoError", "PhotoResult", "load_photo"]
