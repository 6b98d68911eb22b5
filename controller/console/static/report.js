// The printable report: the print button opens the browser's print dialog (see @media print in app.css).
"use strict";
document.getElementById("print-btn").addEventListener("click", () => window.print());
