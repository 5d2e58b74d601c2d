"""End to end in a real browser: Debian's chromium driven by Selenium against the live server.

One browser for the whole session. Set ``EVSERVICE_SCREENSHOTS=DIR`` (``make
screenshots``) to save the main pages as PNG files there.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from tests.web.conftest import SELLER_TAX_CODE, Server, invoice_draft, read_email, send_contract

from evservice import Context
from evservice.audit import publish_checkpoint
from evservice.contracts import request_consent
from evservice.invoices import issue
from evservice.verification import verify

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 430, 1500


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(downloads: Path) -> Iterator[WebDriver]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    assert chromium is not None, "install chromium (scripts/setup.sh)"
    assert driver_path is not None, "install chromium-driver (scripts/setup.sh)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=vi",
        f"--window-size={WIDTH},{HEIGHT}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "plugins.always_open_pdf_externally": False,
        },
    )
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    yield driver
    driver.quit()


def shot(driver: WebDriver, name: str) -> None:
    folder = os.environ.get("EVSERVICE_SCREENSHOTS")
    if folder:
        time.sleep(1.5)  # let the PDF viewer in the page draw the document
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def downloaded(folder: Path, name: str, timeout: float = 20.0) -> Path:
    path = folder / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and not (folder / f"{name}.crdownload").exists() and path.stat().st_size:
            return path
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded: {sorted(p.name for p in folder.iterdir())}")


def submit(driver: WebDriver, button_id: str) -> None:
    """Click a submit button and wait until the next page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))


def type_code(driver: WebDriver, code: str) -> None:
    field = driver.find_element(By.ID, "code")
    field.clear()
    field.send_keys(code)
    submit(driver, "sign")


def test_contract_signed_and_sealed_in_the_browser(
    browser: WebDriver, live: tuple[Server, Context], downloads: Path
) -> None:
    _server, ctx = live
    sent = send_contract(ctx, "browser-sign")
    browser.get(sent.link)
    assert sent.number in browser.find_element(By.TAG_NAME, "h1").text
    sha = browser.find_element(By.ID, "sha256").get_attribute("data-sha256")
    assert sha is not None
    assert len(sha) == 64
    shot(browser, "contract")
    type_code(browser, sent.code)
    assert browser.find_element(By.ID, "confirmed").is_displayed()
    request_consent(sent.number, channel="email", ctx=ctx)  # the representative countersigns
    rep_link, rep_code = read_email(ctx)
    browser.get(rep_link)
    type_code(browser, rep_code)
    browser.get(sent.link)
    assert browser.find_element(By.ID, "status").get_attribute("data-status") == "sealed"
    shot(browser, "contract-sealed")
    browser.find_element(By.ID, "sealed-pdf").click()
    sealed = downloaded(downloads, f"{sent.number}-sealed.pdf")
    report = verify(sealed, ctx=ctx)
    assert report.ok, report.text()
    assert report.embedded_xml is not None
    assert report.embedded_xml.document == "contract"


def test_wrong_code_five_times_then_locked(
    browser: WebDriver, live: tuple[Server, Context]
) -> None:
    _, ctx = live
    sent = send_contract(ctx, "browser-lock")
    wrong = "000000" if sent.code != "000000" else "111111"
    browser.get(sent.link)
    for left in (4, 3, 2, 1):
        type_code(browser, wrong)
        assert f"Còn {left} lần thử" in browser.find_element(By.ID, "notice").text
        assert browser.find_element(By.ID, "tries-left").text.startswith(f"{left} /")
    shot(browser, "contract-wrong-code")
    type_code(browser, wrong)
    assert "đã bị khóa" in browser.find_element(By.ID, "locked").text
    assert not browser.find_elements(By.ID, "code")
    shot(browser, "contract-locked")
    browser.get(sent.link + "?lang=en")
    assert "locked" in browser.find_element(By.ID, "locked").text
    browser.get(sent.link + "?lang=vi")


def test_invoice_looked_up_downloaded_and_verified(
    browser: WebDriver, live: tuple[Server, Context], downloads: Path
) -> None:
    server, ctx = live
    invoice = issue(invoice_draft("browser-invoice"), ctx=ctx)
    browser.get(server.url + "/hoa-don")
    shot(browser, "invoice-lookup")
    browser.find_element(By.ID, "lookup_code").send_keys(invoice.lookup_code)
    browser.find_element(By.ID, "seller_tax_code").send_keys(SELLER_TAX_CODE)
    submit(browser, "find")
    assert browser.find_element(By.ID, "invoice-label").text == invoice.label
    assert browser.find_element(By.ID, "report").get_attribute("data-ok") == "true"
    assert browser.find_element(By.ID, "vietqr").text.startswith("000201")
    shot(browser, "invoice")
    browser.find_element(By.ID, "invoice-pdf").click()
    pdf = downloaded(downloads, f"{invoice.label}.pdf")
    assert verify(pdf, ctx=ctx).ok
    browser.get(server.url + "/kiem-tra")
    browser.find_element(By.ID, "file").send_keys(str(pdf))
    submit(browser, "verify")
    assert browser.find_element(By.ID, "report").get_attribute("data-ok") == "true"
    shot(browser, "verify")
    publish_checkpoint(ctx)
    browser.get(server.url + "/minh-bach")
    assert browser.find_element(By.ID, "checkpoint").text.startswith(ctx.settings.audit_origin)
    shot(browser, "transparency")
    browser.get(server.url + "/?lang=en")
    shot(browser, "home-en")
    browser.get(server.url + "/?lang=vi")
