// Starts Swagger UI on the Estate API docs page. The page gives the spec URL
// and title as data- attributes on #estate-api-docs, so there is no inline
// script and a strict Content-Security-Policy (script-src 'self') works.
// Loaded with `defer` after swagger-ui-bundle.js, so the DOM is parsed and
// SwaggerUIBundle is defined when this runs.
(function () {
  "use strict";
  var config = document.getElementById("estate-api-docs");
  if (!config || typeof SwaggerUIBundle !== "function") {
    return;
  }
  var title = config.getAttribute("data-title");
  if (title) {
    document.title = title;
  }
  window.ui = SwaggerUIBundle({
    url: config.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    // The default sends the spec to a public validator; nothing leaves the page.
    validatorUrl: null,
    // Bearer tokens entered in "Authorize" stay in memory, not localStorage.
    persistAuthorization: false,
  });
})();
