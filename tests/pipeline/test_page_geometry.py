"""``PageGeometry.upright`` and ``PageImage.rotated``: a box found on a page image turned upright lands where the
same content is on the page as displayed, for every /Rotate and every quarter turn (no model needed)."""

from __future__ import annotations

import numpy as np
import pymupdf
import pytest

from pipeline.geometry import BBox
from pipeline.page import PageGeometry, PageImage

W, H = 300.0, 500.0  # points, not square: a swapped side shows


def _geometry(rotation: int) -> PageGeometry:
    doc = pymupdf.open()
    page = doc.new_page(width=W, height=H)
    page.set_rotation(rotation)
    m = page.rotation_matrix
    return PageGeometry(
        page_no=1,
        width=W,
        height=H,
        rotation=rotation,
        display_width=page.rect.width,
        display_height=page.rect.height,
        to_display=(m.a, m.b, m.c, m.d, m.e, m.f),
    )


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("turns", [1, 2, 3])
def test_a_box_on_the_upright_image_maps_to_the_same_place_on_the_page(rotation: int, turns: int) -> None:
    geo = _geometry(rotation)
    sx, sy = 2.0, 3.0  # pixels per point, different on each axis
    pixels = np.zeros((int(H * sy), int(W * sx), 3), dtype=np.uint8)
    box = BBox(l=40, t=60, r=90, b=75)  # content space, points
    pixels[int(box.t * sy) : int(box.b * sy), int(box.l * sx) : int(box.r * sx)] = 255
    image = PageImage(page_no=1, pixels=pixels, scale_x=sx, scale_y=sy).rotated(turns)
    upright = geo.upright(turns)
    assert (image.width, image.height) == (round(upright.width * image.scale_x), round(upright.height * image.scale_y))
    ys, xs = np.nonzero(image.pixels[:, :, 0])
    found = image.box_to_points(BBox(l=xs.min(), t=ys.min(), r=xs.max() + 1, b=ys.max() + 1))
    got, want = upright.bbox_to_display(found), geo.bbox_to_display(box)
    assert max(abs(got.l - want.l), abs(got.t - want.t), abs(got.r - want.r), abs(got.b - want.b)) < 0.5, (got, want)
    assert geo.upright(0) is geo and image.rotated(4 - turns).pixels.shape == pixels.shape


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_a_turned_view_maps_its_boxes_back_to_content_space(turns: int) -> None:
    """The layout model's view of a sideways page (``PageImage.turned``): what it finds in the turned pixels comes
    back where it is in content space."""
    pixels = np.zeros((400, 200, 3), dtype=np.uint8)  # a 100 x 200 pt page at 2 px/pt
    pixels[40:60, 20:100] = 255  # content box 10, 20, 50, 30
    view = PageImage(page_no=1, pixels=pixels, scale_x=2.0, scale_y=2.0).turned(turns)
    assert view.pixels.shape[:2] == ((200, 400) if turns % 2 else (400, 200)) and view.turns == turns
    ys, xs = np.nonzero(view.pixels[..., 0])
    found = BBox(l=float(xs.min()), t=float(ys.min()), r=float(xs.max() + 1), b=float(ys.max() + 1))
    assert view.box_to_points(found).as_tuple() == pytest.approx((10.0, 20.0, 50.0, 30.0))
    assert view.fitted(100).box_to_points(found.scale(100 / 400, 100 / 400)).as_tuple() == pytest.approx(
        (10.0, 20.0, 50.0, 30.0)
    )
    with pytest.raises(ValueError, match="turned"):
        view.crop(BBox(l=0, t=0, r=10, b=10))
