#!/usr/bin/env python3
"""Drives the demo app in headless Chromium (Debian's chromium + chromium-driver, Selenium).

Starts session-demo on a free loopback port, plus a second origin (http://localhost:PORT, a
different *site* from http://127.0.0.1) serving an "attacker" page, then checks what a person
would see. Prints one line per check and a closing "N passed, N failed" line.

    python3 Tests/Browser/browser_test.py --binary .build/debug/session-demo [--screenshots Docs/screenshots]
"""
import argparse
import http.server
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

RESULTS = []


def check(name):
    def wrap(fn):
        def run(*args):
            try:
                fn(*args)
                RESULTS.append((name, True, ""))
                print(f"PASS {name}", flush=True)
            except Exception as error:  # noqa: BLE001 - every failure is reported, none is fatal
                RESULTS.append((name, False, str(error)))
                print(f"FAIL {name}: {error}", flush=True)
                traceback.print_exc()
        return run
    return wrap


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_demo(binary, port, store):
    log = tempfile.NamedTemporaryFile(prefix="session-demo-browser-", suffix=".log", delete=False)
    process = subprocess.Popen([binary, "--port", str(port), "--store", store], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"session-demo did not start; log: {open(log.name).read()}")


def start_attacker_site(port, target):
    page = f"""<!doctype html><html><body>
<h1>Another site</h1>
<iframe id="framed" src="{target}/" width="400" height="200"></iframe>
<img src="{target}/api/me" alt="">
<iframe name="sink" width="400" height="100" onload="if (window.submitted) document.title = 'attack-done'"></iframe>
<form id="attack" method="post" action="{target}/theme" target="sink">
<input type="hidden" name="theme" value="dark"></form>
<script>window.addEventListener('load', function() {{ window.submitted = true; document.getElementById('attack').submit(); }});</script>
</body></html>""".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def make_driver():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,800", "--disable-gpu"]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def visits(driver):
    return int(driver.find_element(By.ID, "visits").text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=".build/debug/session-demo")
    parser.add_argument("--store", default="memory")
    parser.add_argument("--screenshots", default="")
    args = parser.parse_args()

    port = free_port()
    attacker_port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = start_demo(args.binary, port, args.store)
    attacker = start_attacker_site(attacker_port, base)
    driver = make_driver()
    shots = args.screenshots

    def screenshot(name):
        if shots:
            os.makedirs(shots, exist_ok=True)
            driver.save_screenshot(os.path.join(shots, f"{name}.png"))

    try:
        @check("sign in through the HTML form")
        def sign_in():
            driver.get(f"{base}/login")
            screenshot("login")
            driver.find_element(By.ID, "user-name").send_keys("ada")
            driver.find_element(By.ID, "password").send_keys("demo")
            driver.find_element(By.ID, "signin").click()
            # The click starts a navigation; wait for it to land instead of reading the URL mid-flight.
            WebDriverWait(driver, 10).until(
                lambda d: d.current_url.rstrip("/") == base and d.find_elements(By.ID, "user"),
                message="the sign-in form did not lead to the home page")
            assert driver.find_element(By.ID, "user").text == "ada", driver.page_source[:500]
            assert "Welcome, ada!" in driver.page_source, "the welcome flash is missing"
            screenshot("home")
        sign_in()

        @check("the visit counter persists across page loads")
        def counter():
            driver.get(base + "/")
            first = visits(driver)
            driver.refresh()
            driver.get(base + "/")
            assert visits(driver) == first + 2, f"{first} then {visits(driver)}"
            assert "Welcome, ada!" not in driver.page_source, "the flash message survived a second read"
        counter()

        @check("scripts cannot read the session cookie (HttpOnly)")
        def http_only():
            cookies = driver.execute_script("return document.cookie")
            assert not re.search(r"(^|;\s*)id=", cookies), f"document.cookie exposes the session: {cookies!r}"
            assert any(cookie["name"] == "id" and cookie["httpOnly"] for cookie in driver.get_cookies()), driver.get_cookies()
        http_only()

        @check("a form post without the CSRF token is refused")
        def csrf():
            before = visits(driver)
            driver.execute_script("""
                const form = document.createElement('form');
                form.method = 'post'; form.action = '/theme';
                const input = document.createElement('input');
                input.name = 'theme'; input.value = 'dark'; form.appendChild(input);
                document.body.appendChild(form); form.submit();
            """)
            WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "csrf-error") or "/theme" in d.current_url)
            assert driver.find_elements(By.ID, "csrf-error"), "no refusal page: " + driver.page_source[:300]
            driver.get(base + "/")
            assert "body class=\"light\"" in driver.page_source, "the theme changed without a CSRF token"
            assert visits(driver) == before + 1
        csrf()

        @check("a cross-site page does not carry the session (SameSite=Lax)")
        def same_site():
            driver.get(base + "/")
            before = visits(driver)
            driver.get(f"http://localhost:{attacker_port}/")
            # Wait until the frames have loaded and the auto-submitted form's answer arrived.
            WebDriverWait(driver, 10).until(lambda d: d.title == "attack-done")
            screenshot("cross-site")
            driver.get(base + "/")
            assert visits(driver) == before + 1, f"cross-site frames used the session: {before} -> {visits(driver)}"
            assert "body class=\"light\"" in driver.page_source, "a cross-site form post changed the theme"
        same_site()

        @check("the sessions page lists this browser")
        def sessions_page():
            driver.get(base + "/sessions")
            rows = driver.find_elements(By.CSS_SELECTOR, "#sessions tr.session")
            assert len(rows) >= 1 and driver.find_elements(By.CSS_SELECTOR, "#sessions tr.current"), driver.page_source[:500]
            screenshot("sessions")
        sessions_page()

        @check("after signing out, the back button shows a signed-out page")
        def sign_out():
            driver.get(base + "/")
            driver.find_element(By.ID, "signout").click()
            WebDriverWait(driver, 10).until(lambda d: "/login" in d.current_url,
                                            message="signing out did not lead to the login page")
            driver.back()
            WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "user") and "/login" not in d.current_url)
            assert driver.find_element(By.ID, "user").text == "Not signed in", "the back button showed a signed-in page"
            screenshot("signed-out")
        sign_out()
    finally:
        driver.quit()
        attacker.shutdown()
        demo.terminate()
        demo.wait(timeout=10)

    passed = sum(1 for _, ok, _ in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
