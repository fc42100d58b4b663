enum _PacerServerKitPlaceholder {}
