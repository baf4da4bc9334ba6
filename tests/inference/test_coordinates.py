"""Original-image pixels and SAM's model frame: the resize rule, round trips on
landscape, portrait and tiny images, and masks that come back at the original size."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from inference.predict import Prediction
from inference.transforms import PIXEL_MEAN, PIXEL_STD, ResizeTransform, to_model_input


@pytest.mark.parametrize(
    ("height", "width", "resized"),
    [
        (480, 640, (768, 1024)),
        (640, 480, (1024, 768)),
        (400, 600, (683, 1024)),  # 682.67 rounds up
        (300, 451, (681, 1024)),  # 681.15 rounds down
        (9, 17, (542, 1024)),
        (1024, 1024, (1024, 1024)),
        (3000, 2000, (1024, 683)),
    ],
)
def test_the_longest_side_becomes_1024_and_the_other_is_rounded_like_sam(
    height: int, width: int, resized: tuple[int, int]
) -> None:
    assert ResizeTransform(height, width).resized == resized


@pytest.mark.parametrize(("height", "width"), [(480, 640), (640, 480), (9, 17), (300, 451)])
def test_points_survive_a_round_trip_through_the_model_frame(height: int, width: int) -> None:
    transform = ResizeTransform(height, width)
    corners = [[0, 0], [width, 0], [0, height], [width, height], [width - 1, height - 1]]
    inside = np.random.default_rng(0).uniform((0, 0), (width, height), size=(50, 2))
    points = np.concatenate([corners, inside])

    round_trip = transform.to_original(transform.to_model(points))

    np.testing.assert_allclose(round_trip, points, atol=1e-3)


@pytest.mark.parametrize(("height", "width"), [(480, 640), (640, 480), (9, 17)])
def test_the_far_corner_of_the_image_is_the_far_corner_of_the_resized_frame(
    height: int, width: int
) -> None:
    transform = ResizeTransform(height, width)
    resized_height, resized_width = transform.resized

    # x stays x: the right edge (width, 0) maps onto the model frame's right edge.
    np.testing.assert_allclose(transform.to_model([[width, 0]]), [[resized_width, 0]], atol=1e-3)
    np.testing.assert_allclose(transform.to_model([[0, height]]), [[0, resized_height]], atol=1e-3)


def test_a_box_maps_like_its_two_corners() -> None:
    transform = ResizeTransform(480, 640)
    box = [100.5, 20, 600, 470.25]

    np.testing.assert_allclose(
        transform.boxes_to_model(box), transform.to_model([box[:2], box[2:]]).reshape(4)
    )


@pytest.mark.parametrize(("width", "height"), [(300, 200), (200, 300)])
def test_the_model_input_is_normalised_and_padded_only_at_the_right_and_bottom(
    width: int, height: int
) -> None:
    colour = (200, 100, 50)
    model_input = to_model_input(Image.new("RGB", (width, height), colour))

    assert (model_input.shape, model_input.dtype) == ((3, 1024, 1024), np.float32)
    resized_height, resized_width = ResizeTransform(height, width).resized
    expected = (np.array(colour) - PIXEL_MEAN) / PIXEL_STD
    image_part = model_input[:, :resized_height, :resized_width]
    np.testing.assert_allclose(
        image_part, np.broadcast_to(expected[:, None, None], image_part.shape), atol=1e-5
    )
    assert not model_input[:, resized_height:, :].any()
    assert not model_input[:, :, resized_width:].any()


def test_a_click_on_a_tiny_image_gives_masks_of_its_size_around_the_clicked_block(
    segment: Callable[..., Prediction], tiny_block: np.ndarray
) -> None:
    prediction = segment("tiny", points=[(12, 4)], labels=[1])  # inside the bright block

    assert prediction.masks.shape == (3, 9, 17)
    best = prediction.masks[np.argmax(prediction.scores)]
    assert (best & tiny_block).sum() / (best | tiny_block).sum() >= 0.9
