enum _PacerTestKitPlaceholder {}
