"""The main interpreter: prints, exit status, uncaught exceptions, sleep."""

from .support import TracerTest


class Prints(TracerTest):
    def test_prints_arrive_in_order_from_the_main_process_with_partial_lines_joined(self):
        r = self.run_program(
            """
            import sys
            print("hello", 1)
            print("a", end="")
            print("b", end="", flush=True)
            print("c")
            sys.stdout.write("two\\nlines\\n")
            print("to stderr", file=sys.stderr)
            sys.stdout.buffer.write("caf\\u00e9\\n".encode())
            print("no newline at exit", end="")
            """
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout(), ["hello 1", "abc", "two", "lines", "café", "no newline at exit"])
        self.assertEqual(r.stderr(), ["to stderr"])
        self.assertEqual({e["pid"] for e in r.of("print")}, {r.main})
        self.assertEqual({e["tid"] for e in r.of("print")}, {r.main}, "tid is the pid on a main thread")
        self.assertEqual(r.events[0]["kind"], "proc.start")
        self.assertEqual(r.events[0]["name"], "MainProcess")

    def test_long_and_odd_text_is_cut_to_512_utf8_bytes_on_a_character_boundary(self):
        r = self.run_program(
            """
            print("é" * 1000)
            print("\\x00\\"\\\\" * 300)
            print("lone \\udc80 surrogate")
            """
        )
        self.assertWellBehaved(r)
        long, escaped, lone = r.stdout()
        self.assertTrue(long.endswith("..."))
        self.assertLessEqual(len(long.encode()), 512)
        self.assertEqual(long, "é" * 254 + "...")
        self.assertLessEqual(len(escaped.encode()), 512)
        self.assertEqual(lone, "lone ? surrogate")

    def test_the_program_runs_as_main_with_its_own_file_name_and_a_clean_sys_path(self):
        r = self.run_program(
            """
            import sys, os
            print(__name__, __file__, sys.argv)
            print(any("forkline" in p for p in sys.path))
            print(sorted(k for k in os.environ if k.startswith("FORKLINE_")))
            """,
            file="demo.py",
        )
        self.assertWellBehaved(r)
        self.assertEqual(r.stdout()[:2], ["__main__ demo.py ['demo.py']", "False"])


class ExitStatus(TracerTest):
    def test_sys_exit_3_is_exit_code_3(self):
        r = self.run_program("import sys\nprint('bye')\nsys.exit(3)\n")
        self.assertWellBehaved(r, code=3)
        self.assertEqual(r.stdout(), ["bye"])

    def test_exit_and_quit_work_without_site(self):
        # The interpreter runs with -S; the tracer puts back what site adds.
        r = self.run_program("print('bye')\nexit(4)\n")
        self.assertWellBehaved(r, code=4)
        self.assertEqual(r.stdout(), ["bye"])
        r = self.run_program("quit()\n")
        self.assertWellBehaved(r, code=0)

    def test_sys_exit_with_a_message_prints_it_to_stderr_and_exits_1(self):
        r = self.run_program("import sys\nsys.exit('stopped here')\n")
        self.assertWellBehaved(r, code=1)
        self.assertEqual(r.stderr(), ["stopped here"])

    def test_os_exit_says_proc_exit_with_its_code_and_skips_atexit(self):
        r = self.run_program(
            """
            import atexit, os
            atexit.register(print, "not printed: os._exit skips atexit")
            print("partial", end="")
            os._exit(7)
            """
        )
        self.assertWellBehaved(r, code=7)
        self.assertEqual(r.stdout(), ["partial"])


class UncaughtException(TracerTest):
    def test_zero_division_reports_type_message_line_then_the_traceback_on_stderr(self):
        r = self.run_program(
            """
            def divide(x):
                return 1 / x

            print("before")
            divide(0)
            print("not reached")
            """,
            file="crash.py",
        )
        self.assertWellBehaved(r, code=1)
        self.assertEqual(r.stdout(), ["before"])
        (exc,) = r.of("exception")
        self.assertEqual((exc["type"], exc["message"], exc["line"]), ("ZeroDivisionError", "division by zero", 3))
        self.assertEqual((exc["pid"], exc["tid"]), (r.main, r.main))
        # As CPython prints it (the ~~^~~ marker lines differ between versions).
        markers = set(" ~^")
        self.assertEqual(
            [line for line in r.stderr() if not set(line) <= markers],
            [
                "Traceback (most recent call last):",
                '  File "crash.py", line 6, in <module>',
                "    divide(0)",
                '  File "crash.py", line 3, in divide',
                "    return 1 / x",
                "ZeroDivisionError: division by zero",
            ],
        )
        self.assertIn("           ~~^~~", r.stderr())
        kinds = [e["kind"] for e in r.lane(r.main)]
        self.assertLess(kinds.index("exception"), kinds.index("print", kinds.index("exception")))

    def test_a_syntax_error_is_reported_with_its_line_and_no_traceback(self):
        r = self.run_program("print('a')\nx = = 1\n", file="bad.py")
        self.assertWellBehaved(r, code=1)
        (exc,) = r.of("exception")
        self.assertEqual((exc["type"], exc["line"]), ("SyntaxError", 2))
        self.assertEqual(r.stderr()[0], '  File "bad.py", line 2')
        self.assertEqual(r.stderr()[-1], "SyntaxError: invalid syntax")
        self.assertEqual(r.stdout(), [])


class Sleep(TracerTest):
    def test_sleep_spans_with_rounded_ms_for_time_sleep_and_from_time_import_sleep(self):
        r = self.run_program(
            """
            import time
            from time import sleep
            time.sleep(0.0104)
            sleep(0.002)
            """
        )
        self.assertWellBehaved(r)
        sleeps = [(e["phase"], e.get("ms")) for e in r.of("sleep")]
        self.assertEqual(sleeps, [("begin", 10), ("end", None), ("begin", 2), ("end", None)])
        begin, end = r.of("sleep")[:2]
        self.assertGreaterEqual(end["t"] - begin["t"], 10_000_000)
