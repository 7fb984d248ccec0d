// The subscribe form's hidden time-zone field, filled from the browser's own clock (Intl), so
// that digests arrive in the reader's morning. Without script the field stays empty and the
// site's default zone applies; the preference centre changes it either way.
document.querySelectorAll('input[name="timezone"]').forEach(function (field) {
  try {
    if (!field.value) {
      field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    }
  } catch (error) {
    // An old browser without Intl: the server's default applies.
  }
});
