enum _PacerClientPlaceholder {}
