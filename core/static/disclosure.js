// Progressive disclosure for forms: an element with data-shown-when="NAME=VALUE"
// is hidden unless the checked radio button NAME has VALUE. Without this
// script every element stays visible, so the form works without JavaScript.
(function () {
  "use strict";
  function update(form) {
    form.querySelectorAll("[data-shown-when]").forEach(function (el) {
      var rule = el.getAttribute("data-shown-when").split("=");
      var checked = form.querySelector('input[name="' + rule[0] + '"]:checked');
      el.hidden = !checked || checked.value !== rule[1];
    });
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-shown-when]")) return;
    form.addEventListener("change", function () { update(form); });
    update(form);
  });
})();
