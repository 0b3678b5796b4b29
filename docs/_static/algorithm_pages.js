// The algorithm pages: a click on a pseudocode line highlights the code lines that cite it and
// scrolls the code pane to the first; a click on a code line's back link highlights its line.
(function () {
  function activate(pane, item) {
    pane.querySelectorAll(".active").forEach(function (el) { el.classList.remove("active"); });
    item.classList.add("active");
    var ids = (item.dataset.code || "").split(" ").filter(Boolean);
    var code = ids.map(function (id) { return document.getElementById(id); }).filter(Boolean);
    code.forEach(function (el) { el.classList.add("active"); });
    if (code.length) {
      var box = pane.querySelector(".code-pane");
      box.scrollTop += code[0].getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 3;
    }
    return code.length;
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".twopane").forEach(function (pane) {
      pane.querySelectorAll("li.pl").forEach(function (item) {
        item.addEventListener("click", function (event) {
          if (event.target.closest(".refs a")) { return; }   // a link to one code line: follow it
          if (activate(pane, item)) { event.preventDefault(); }
          history.replaceState(null, "", "#" + item.id);
        });
      });
      pane.querySelectorAll("a.back").forEach(function (link) {
        link.addEventListener("click", function () {
          var item = document.getElementById(link.hash.slice(1));
          if (item && link.pathname === location.pathname) { activate(pane, item); }
        });
      });
      var target = location.hash && document.getElementById(location.hash.slice(1));
      if (target && target.classList.contains("pl")) { activate(pane, target); }
    });
  });
})();
