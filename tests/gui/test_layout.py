"""The layout holds from the minimum size up: measured on widget geometry, not by eye."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from vpnguard.gui import demo

SIZES = {"minimum": None, "typical": (880, 640), "large": (1400, 950)}


def _rect(w: QWidget, top: QWidget) -> QRect:
    return QRect(w.mapTo(top, QPoint(0, 0)), w.size())


def _controls(w: Any) -> dict[str, QWidget]:
    return {
        "vpn headline": w.vpn.headline,
        "vpn advice": w.vpn.sub,
        "vpn details button": w.vpn.toggle,
        "browser list": w.list,
        "level": w.level,
        "level details": w.level_more,
        "level help": w.level_help,
        "auto": w.auto_label,
        "undo": w.undo_button,
        "protect": w.protect_button,
        "check summary": w.check_summary,
        "check when": w.check_when,
        "own": w.own_button,
        "check": w.check_button,
    }


@pytest.mark.parametrize("size", list(SIZES))
def test_nothing_overlaps_or_is_clipped(make_window: Any, qtbot: Any, size: str) -> None:
    w = make_window(checker=demo.SimulatedChecker({"chromium": "leak"}, seconds=0.01))
    w.show()
    qtbot.waitExposed(w)
    w.refresh()
    w.check()  # the longest texts: a leak summary, the warning line, the time line
    if SIZES[size] is None:
        w.resize(w.minimumSize())
    else:
        w.resize(*SIZES[size])
    qtbot.wait(50)
    assert w.minimumSize().width() <= 640 and w.minimumSize().height() <= 600
    content = w.content
    controls = {k: v for k, v in _controls(w).items() if v.isVisibleTo(w)}
    rects = {k: _rect(v, content) for k, v in controls.items()}
    for name, widget in controls.items():
        hint = widget.minimumSizeHint()
        r = rects[name]
        # Nothing is squeezed below what it needs (word-wrapped labels: their height for
        # the width they got).
        need_h = widget.heightForWidth(r.width()) if widget.hasHeightForWidth() else hint.height()
        assert r.height() >= min(need_h, hint.height() if hint.height() > 0 else need_h), name
        assert r.width() >= hint.width() or hint.width() <= 0, (name, r, hint)
        # Inside the scrollable content: reachable, never cut off by the window.
        assert content.rect().contains(r), (name, r, content.rect())
    names = sorted(rects)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if controls[a].isAncestorOf(controls[b]) or controls[b].isAncestorOf(controls[a]):
                continue
            assert not rects[a].intersects(rects[b]), f"{a} {rects[a]} overlaps {b} {rects[b]}"
    # The browser list shows every browser (two) plus room, not one clipped row.
    assert (
        w.list.viewport().height()
        >= 2 * w.list.visualItemRect(next(iter(w.list.items.values()))).height()
    )
    # At every size, even with a leak warning, everything fits: no scrolling at all.
    assert not w.scroller.horizontalScrollBar().isVisible(), size
    assert not w.scroller.verticalScrollBar().isVisible(), size
    assert content.height() <= w.scroller.viewport().height()


def test_tab_order_reaches_every_control_in_reading_order(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    w.show()
    qtbot.waitExposed(w)
    w.refresh()
    w.activateWindow()
    w.vpn.toggle.setFocus(Qt.FocusReason.TabFocusReason)
    seen: list[QWidget] = []
    widget: QWidget = w.vpn.toggle
    for _ in range(40):
        seen.append(widget)
        widget = widget.nextInFocusChain()
        while not (
            widget.isVisibleTo(w)
            and widget.isEnabled()
            and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
            and widget.window() is w
        ):
            widget = widget.nextInFocusChain()
        if widget is w.vpn.toggle:
            break
    expected = [
        x
        for x in w.tab_chain
        if x.isVisibleTo(w) and x.isEnabled() and x.focusPolicy() & Qt.FocusPolicy.TabFocus
    ]
    order = [x for x in seen if x in expected]
    assert order == expected
    assert w.protect_button in order and w.check_button in order and w.list in order
    # Nothing focusable is left out of the planned chain.
    extra = [x for x in seen if x not in w.tab_chain and x is not w.scroller]
    assert extra == [], [x.accessibleName() or x.metaObject().className() for x in extra]


def test_keyboard_focus_on_protect_is_visible(make_window: Any, qtbot: Any) -> None:
    w = make_window()
    w.show()
    qtbot.waitExposed(w)
    w.refresh()
    w.activateWindow()
    w.level_more.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.wait(20)
    without = w.protect_button.grab().toImage()
    for _ in range(3):  # real Tab presses, as a keyboard user reaches it
        if w.protect_button.hasFocus():
            break
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        qtbot.wait(20)
    assert w.protect_button.hasFocus()
    with_focus = w.protect_button.grab().toImage()
    assert with_focus != without, "focus must change how the Protect button looks"
