"""The pieces that need no interpreter of their own: text clipping, payload
JSON, assignment names, the line shape check."""

import json
import os
import sys
import unittest

from forkline_trace import emit, names, payload

from .support import check_line


class Clip(unittest.TestCase):
    def test_like_the_servers_clip_text(self):
        self.assertEqual(emit.clip("hi"), "hi")
        self.assertEqual(emit.clip("a" * 512), "a" * 512)
        self.assertEqual(emit.clip("a" * 513), "a" * 509 + "...")
        cut = emit.clip("€" * 300)  # 3 bytes each
        self.assertEqual(cut, "€" * 169 + "...")
        self.assertLessEqual(len(cut.encode()), 512)

    def test_json_strings_are_valid_utf8_json_even_for_lone_surrogates(self):
        for text in ("plain", 'quote " and \\ and \n', "\udc80", "\x00" * 600):
            raw = emit.jstr(text)
            json.loads(raw.decode("utf-8"))
            self.assertLessEqual(len(raw), 6 * 512 + 2)


class Payload(unittest.TestCase):
    def test_json_values_compact_and_exact(self):
        for obj, text in [
            (4, b"4"),
            ([2, 3, 5], b"[2,3,5]"),
            ((1, "a"), b'[1,"a"]'),
            ({"k": None, 1: True, 2.5: False}, b'{"k":null,"1":true,"2.5":false}'),
            (-0.5, b"-0.5"),
            ("é", '"é"'.encode()),
        ]:
            self.assertEqual(payload.value_json(obj), text)

    def test_anything_else_is_its_repr_cut_to_300_bytes(self):
        self.assertEqual(payload.value_json(float("inf")), b'"inf"')
        self.assertEqual(payload.value_json(b"xy"), b"\"b'xy'\"")
        long = json.loads(payload.value_json(list(range(10000))))
        self.assertIsInstance(long, str)
        self.assertLessEqual(len(long.encode()), 300)
        self.assertEqual(json.loads(payload.value_json("x" * 1000)), "'" + "x" * 296 + "...")

    def test_tagged_pickles_and_orders_by_what_it_carries(self):
        import pickle

        t = pickle.loads(pickle.dumps(payload.Tagged(7, [1])))
        self.assertEqual((t.msg, t.obj), (7, [1]))
        self.assertLess(payload.Tagged(1, 2), payload.Tagged(0, 3))
        self.assertEqual(payload.unwrap(t), (7, [1]))
        self.assertEqual(payload.unwrap("raw"), (0, "raw"))


def _make():
    return names.assigned(sys._getframe(1))


class Holder:
    pass


class Names(unittest.TestCase):
    def test_the_name_the_result_is_stored_to(self):
        lock = _make()
        self.assertEqual(lock, ["lock"])
        h = Holder()
        h.attr = _make()
        self.assertEqual(h.attr, ["attr"])
        global GLOBAL_NAME
        GLOBAL_NAME = _make()
        self.assertEqual(GLOBAL_NAME, ["GLOBAL_NAME"])
        items = [_make()]
        self.assertEqual(items, [None], "an element of a list has no name")

    def test_unpacking_names_each_target(self):
        def pair():
            return names.assigned(sys._getframe(1)), "second"

        got, other = pair()
        self.assertEqual((got, other), (["got", "other"], "second"))

    def test_fallbacks_count_per_kind(self):
        self.assertEqual(names.fallback("Widget"), "Widget-1")
        self.assertEqual(names.fallback("Widget"), "Widget-2")


class LineCheck(unittest.TestCase):
    def test_the_check_rejects_what_the_server_would(self):
        good = b'{"t":1,"pid":2,"tid":2,"cpu":0,"kind":"print","text":"x","stream":"stderr"}'
        self.assertEqual(check_line(good), [])
        self.assertTrue(check_line(b'{"pid":2,"t":1,"tid":2,"cpu":0,"kind":"print","text":"x"}'))
        self.assertTrue(check_line(b'{"t":1,"pid":2,"tid":2,"cpu":0,"kind":"print","stream":"stderr","text":"x"}'))
        self.assertTrue(check_line(b'{"t":1,"pid":2,"tid":2,"cpu":0,"kind":"lock","phase":"wait"}'))
        self.assertTrue(check_line(b"x" * 5000))


class Channel(unittest.TestCase):
    def setUp(self):
        self.r, self.w = os.pipe()
        self.saved = (emit.FD, emit.ORIGIN, emit.PROGRAM, emit._held)
        emit.open_channel(self.w, 0, "x.py")
        emit._held = None

    def tearDown(self):
        emit.FD, emit.ORIGIN, emit.PROGRAM, emit._held = self.saved
        os.close(self.r)
        os.close(self.w)

    def lines(self):
        return os.read(self.r, 1 << 16).split(b"\n")[:-1]

    def test_one_line_per_event_and_oversized_bodies_become_a_note(self):
        emit.emit(b',"kind":"thread.exit"}\n')
        emit.emit_checked(b',"kind":"note","text":"%s"}\n' % (b"x" * 5000))
        first, second = self.lines()
        self.assertEqual(check_line(first), [])
        self.assertEqual(check_line(second), [])
        self.assertIn(b"dropped", second)

    def test_held_lines_follow_proc_start_which_takes_the_first_ones_time(self):
        emit.hold()
        emit.emit(b',"kind":"print","text":"early"}\n')
        emit.emit_start(b',"kind":"proc.start","name":"p","ppid":1}\n')
        start, early = [json.loads(x) for x in self.lines()]
        self.assertEqual((start["kind"], early["kind"]), ("proc.start", "print"))
        self.assertEqual(start["t"], early["t"])


if __name__ == "__main__":
    unittest.main()
