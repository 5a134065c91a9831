/* The site's menu button on narrow screens (a disclosure: aria-expanded on the button, the
   navigation shown or hidden). A static file, no inline script: the site's Content-Security-
   Policy allows scripts by nonce only. Without JavaScript the button stays hidden and the
   navigation is shown in full. */
(function () {
    "use strict";
    var narrow = window.matchMedia("(max-width: 760px)");

    function setUp(header) {
        var button = header.querySelector(".site-menu-button");
        var nav = button && document.getElementById(button.getAttribute("aria-controls"));
        if (!nav) {
            return;
        }

        function setOpen(open) {
            button.setAttribute("aria-expanded", open ? "true" : "false");
            header.classList.toggle("site-header--menu-open", open);
        }

        header.classList.add("site-header--has-menu");
        button.hidden = false;
        setOpen(false);

        button.addEventListener("click", function () {
            setOpen(button.getAttribute("aria-expanded") !== "true");
        });
        // Escape closes the menu and gives the focus back to its button.
        header.addEventListener("keydown", function (event) {
            if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
                setOpen(false);
                button.focus();
            }
        });
        // Back on a wide screen the navigation is always shown: start closed next time.
        narrow.addEventListener("change", function () {
            setOpen(false);
        });
    }

    document.querySelectorAll("[data-site-menu]").forEach(setUp);
})();
