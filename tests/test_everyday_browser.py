"""What a journalist meets in the browser (real headless Chromium): the
suggestions reached with the arrow keys and closed with Escape from
anywhere, the box focused on the home page, the way back from an item to the
same results, and a finger-sized 記事を表示 link on a phone."""

import shutil
import threading
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from test_browser import QuietHandler, search_box, start_chromium, wait  # skips without Chromium
from test_everyday import sample_dumps  # noqa: F401 - the fixture

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from web import create_app  # noqa: E402


@pytest.fixture(scope="module")
def base_url(sample_dumps):  # noqa: F811
    app = create_app({"INDEX_DIR": sample_dumps[1], "TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def driver():
    driver, profile = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def active(driver):
    return driver.switch_to.active_element


def suggestions(driver):
    panel = wait(driver).until(EC.visibility_of_element_located((By.ID, "live-results")))
    wait(driver).until(lambda d: len(panel.find_elements(By.CSS_SELECTOR, "a")) >= 2)
    return panel, panel.find_elements(By.CSS_SELECTOR, "a")


def test_the_home_page_focuses_the_box(driver, base_url):
    driver.get(base_url + "/")
    assert active(driver) == search_box(driver)


def test_arrow_keys_move_through_the_suggestions(driver, base_url):
    driver.get(base_url + "/")
    box = search_box(driver)
    box.send_keys("ペスコフ")
    panel, links = suggestions(driver)
    box.send_keys(Keys.ARROW_DOWN)
    assert active(driver) == links[0]
    active(driver).send_keys(Keys.ARROW_DOWN)
    assert active(driver) == links[1]
    active(driver).send_keys(Keys.ARROW_UP)
    active(driver).send_keys(Keys.ARROW_UP)
    assert active(driver) == box
    box.send_keys(Keys.ARROW_DOWN)
    active(driver).send_keys(Keys.ENTER)  # a suggestion opens its item
    wait(driver).until(EC.url_contains("/items/"))


def test_escape_closes_the_suggestions_from_anywhere(driver, base_url):
    driver.get(base_url + "/")
    box = search_box(driver)
    box.send_keys("ウクライナ")
    panel, links = suggestions(driver)
    box.send_keys(Keys.ARROW_DOWN)
    active(driver).send_keys(Keys.ESCAPE)  # from inside the list: back to the box
    wait(driver).until(EC.invisibility_of_element(panel))
    assert active(driver) == box
    box.send_keys(" ロシア")
    panel, _ = suggestions(driver)
    driver.find_element(By.TAG_NAME, "h1").click()  # focus leaves the box
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait(driver).until(EC.invisibility_of_element(panel))


def test_back_to_the_results_returns_to_the_same_search(driver, base_url):
    search = (f"/?q={quote('ウクライナ')}&source={quote('NHKニュース')}"
              "&sort=newest&per_page=2&page=2")
    driver.get(base_url + search)
    driver.find_element(By.CSS_SELECTOR, ".hit-actions a").click()
    wait(driver).until(EC.url_contains("/items/"))
    driver.find_element(By.CSS_SELECTOR, "nav.breadcrumb a").click()
    wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "strong.total")))
    assert parse_qs(urlsplit(driver.current_url).query) == parse_qs(urlsplit(search).query)
    assert driver.find_element(By.CSS_SELECTOR, "ol.hits").get_attribute("start") == "3"


def test_the_item_link_is_a_finger_sized_target_on_a_phone(driver, base_url):
    driver.set_window_size(390, 844)
    try:
        driver.get(base_url + "/?q=" + quote("ウクライナ"))
        for link in driver.find_elements(By.CSS_SELECTOR, ".hit-actions a")[:3]:
            size = link.size
            assert size["height"] >= 44 and size["width"] >= 44, size
    finally:
        driver.set_window_size(1280, 1000)
