enum _PacerAppsPlaceholder {}
